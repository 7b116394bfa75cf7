using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Wire;

/// <summary>Azure OpenAI's stream shape: a first chunk with empty choices and only prompt filter results, filter-only
/// chunks with asynchronous content filtering, and usage on a last empty-choices chunk (stream_options.include_usage).</summary>
[Trait("Category", "Wire")]
public sealed class AzureOpenAIStreamQuirksTests
{
    [Fact]
    public async Task Prompt_filter_filter_only_and_usage_chunks_become_exactly_meta_the_text_chunks_and_done()
    {
        await using var host = await WireHost.StartAsync();
        using var cts = WireHost.Timeout();
        // The default script: a prompt_filter_results chunk with "choices": [], six deltas with a filter-only chunk
        // after every second one, a finish_reason chunk, a usage chunk with "choices": [], then [DONE].
        var script = host.Fake.DefaultScript;
        Assert.Equal(["Hello", " from", " the", " fake", " model", "."], script.Tokens);
        Assert.Equal(2, script.FilterChunkEvery);
        Assert.True(script.IncludeUsage);

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.Equal(1 + 1 + 6 + 1, frames.Count);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..^1], "Hello", " from", " the", " fake", " model", ".");
        var done = FrameAssert.Done(frames[^1], "stop");
        var usage = done["usage"]!.AsObject();
        Assert.Equal(script.PromptTokens, usage["inputTokens"]!.GetValue<int>());
        Assert.Equal(script.Tokens.Count, usage["outputTokens"]!.GetValue<int>());
        Assert.Equal(script.PromptTokens + script.Tokens.Count, usage["totalTokens"]!.GetValue<int>());
        Assert.Equal(3, usage.Count);
        Assert.Single(host.Fake.Requests);
    }
}
