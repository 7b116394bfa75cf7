using System.Diagnostics;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// A reasoning model on the wire: CHAT_REASONING_EFFORT as the request's <c>reasoning_effort</c> (Azure OpenAI only),
/// and a model that thinks before its first token: the thinking frame, and the done frame's split of the wait.
/// </summary>
[Trait("Category", "Wire")]
public sealed class ReasoningTests
{
    /// <summary>Timers fire on the clock's tick, not before the time asked for; a millisecond of it is rounding.</summary>
    private static readonly TimeSpan TimerAllowance = TimeSpan.FromMilliseconds(20);

    [Theory]
    [InlineData("none")]
    [InlineData("minimal")]
    [InlineData("low")]
    [InlineData("xhigh")]
    public async Task The_setting_is_sent_to_Azure_OpenAI_as_reasoning_effort(string effort)
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["CHAT_REASONING_EFFORT"] = effort });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Done(frames[^1], "stop");
        var request = Assert.Single(host.Fake.Requests);
        Assert.Equal(effort, request.Body["reasoning_effort"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public async Task Unset_no_reasoning_effort_is_sent_so_the_model_decides(string? effort)
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["CHAT_REASONING_EFFORT"] = effort });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        FrameAssert.Done(frames[^1], "stop");
        Assert.False(Assert.Single(host.Fake.Requests).Body.ContainsKey("reasoning_effort"));
    }

    [Fact]
    public async Task An_OpenAI_compatible_server_never_gets_a_reasoning_effort()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_PROVIDER"] = "Auto",
            ["OPENAI_BASE_URL"] = new Uri(fake.Endpoint, "v1").ToString(),
            ["OPENAI_MODEL"] = "llama3.2",
            ["CHAT_REASONING_EFFORT"] = "high",
        });

        var frames = await SseClient.ReadAllAsync(app.Client, SseClient.Post("hi"));

        SseClient.AssertWellFormed(frames);
        Assert.Equal("Hello from the fake model.", SseClient.Text(frames));
        var request = Assert.Single(fake.Requests);
        Assert.StartsWith("/v1/chat/completions", request.PathAndQuery, StringComparison.Ordinal);
        Assert.False(request.Body.ContainsKey("reasoning_effort"));
    }

    [Fact]
    public async Task The_protocol_client_sends_the_effort_as_the_sdk_adapter_does()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);

        var (_, sdkError) = await ProviderClients.ReadAsync(clients.SdkAdapter(UpstreamProvider.AzureOpenAI, reasoningEffort: "minimal"));
        var (_, ourError) = await ProviderClients.ReadAsync(clients.Protocol(UpstreamProvider.AzureOpenAI, reasoningEffort: "minimal"));

        Assert.Null(sdkError);
        Assert.Null(ourError);
        var requests = fake.Requests.ToList();
        Assert.Equal(2, requests.Count);
        Assert.Equal("minimal", requests[0].Body["reasoning_effort"]!.GetValue<string>());
        Assert.Equal("minimal", requests[1].Body["reasoning_effort"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_thinking_model_gets_a_thinking_frame_and_the_done_frame_splits_the_wait()
    {
        var think = TimeSpan.FromSeconds(1.5);
        await using var host = await WireHost.StartAsync();
        host.Fake.Enqueue(new FakeScript { Tokens = ["after", " thought"], DelayBeforeFirstToken = think, ReasoningTokens = 64, PromptTokens = 10 });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Meta(frames[0]);
        Assert.True(frames[1].IsThinking, $"the frame after meta says the model is thinking: {frames[1].Data.ToJsonString()}");
        FrameAssert.Chunks(frames[2..^1], "after", " thought");
        var done = FrameAssert.Done(frames[^1], "stop");

        // The page's view of the wait: the thinking frame arrives once the model accepts, the text a think after the
        // model received the request (timed from the model's side: the thinking frame's own way to the client can
        // take longer than the first chunk's on a busy machine).
        Assert.True(frames[1].ArrivedTimestamp < frames[2].ArrivedTimestamp, "the thinking frame came before the text");
        var waited = Stopwatch.GetElapsedTime(Assert.Single(host.Fake.Requests).ReceivedTimestamp, frames[2].ArrivedTimestamp);
        Assert.True(waited >= think - TimerAllowance, $"the first chunk came {waited.TotalMilliseconds} ms after the model received the request; the model thought {think.TotalMilliseconds} ms");

        var ttfb = frames[1].Data["thinking"]!["timeToFirstByteMs"]!.GetValue<double>();
        var metrics = done["metrics"]!;
        Assert.Equal(ttfb, metrics["timeToFirstByteMs"]!.GetValue<double>());
        var thinkingMs = metrics["thinkingMs"]!.GetValue<double>();
        Assert.True(thinkingMs >= (think - TimerAllowance).TotalMilliseconds, $"thinkingMs {thinkingMs} covers the model's think of {think.TotalMilliseconds} ms");
        // The parts add up (each is rounded to 0.1 ms).
        Assert.Equal(metrics["timeToFirstTokenMs"]!.GetValue<double>(), ttfb + thinkingMs, 0.2);

        var usage = done["usage"]!;
        Assert.Equal(64, usage["reasoningTokens"]!.GetValue<int>());
        Assert.Equal(2 + 64, usage["outputTokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_model_that_never_answers_gets_no_thinking_frame()
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["CHAT_RETRY_MAX_ATTEMPTS"] = "1" });
        host.Fake.Enqueue(FakeScript.Failure(500));
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.DoesNotContain(frames, f => f.IsThinking);
        var metrics = FrameAssert.Done(frames[^1], "error")["metrics"]!;
        Assert.Null(metrics["timeToFirstByteMs"]);
        Assert.Null(metrics["thinkingMs"]);
    }
}
