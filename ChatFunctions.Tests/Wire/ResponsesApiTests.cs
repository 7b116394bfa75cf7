using System.Diagnostics;
using Azure.Core;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// CHAT_API=responses on the wire: the request the v1 Responses API gets, the reasoning summary relayed as reasoning
/// frames, and each of the stream's endings told truthfully. The faults that both APIs share (429, 500, reset, stall,
/// cut-off bodies, heartbeats) run on both in <see cref="UpstreamFaultTests"/> and <see cref="TruncatedReplyTests"/>.
/// </summary>
[Trait("Category", "Wire")]
public sealed class ResponsesApiTests
{
    private const string Api = "responses";

    /// <summary>Timers fire on the clock's tick, not before the time asked for; a millisecond of it is rounding.</summary>
    private static readonly TimeSpan TimerAllowance = TimeSpan.FromMilliseconds(20);

    [Fact]
    public async Task The_request_goes_to_the_v1_responses_endpoint_with_the_deployment_as_model_and_the_effort_with_a_summary()
    {
        await using var host = await WireHost.StartAsync(Api, new Dictionary<string, string?> { ["CHAT_REASONING_EFFORT"] = "low" });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", new[] { new { role = "user", content = "earlier" }, new { role = "assistant", content = "answer" } }, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Done(frames[^1], "stop");
        var request = Assert.Single(host.Fake.Requests);
        Assert.Equal("/openai/v1/responses", request.PathAndQuery);
        Assert.Equal(WireHost.ApiKey, request.Headers["api-key"]);
        Assert.False(request.Headers.ContainsKey("Authorization"), "a key goes in api-key, never as a bearer token");
        var body = request.Body;
        Assert.Equal(WireHost.Deployment, body["model"]!.GetValue<string>());
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.Equal(321, body["max_output_tokens"]!.GetValue<int>());
        Assert.Equal("low", body["reasoning"]!["effort"]!.GetValue<string>());
        Assert.Equal("auto", body["reasoning"]!["summary"]!.GetValue<string>());
        var input = body["input"]!.AsArray().Select(m => (m!["role"]!.GetValue<string>(), string.Concat(m["content"]!.AsArray().Select(p => p!["text"]!.GetValue<string>())))).ToList();
        Assert.Equal(
            [("system", WireHost.SystemPrompt), ("user", "earlier"), ("assistant", "answer"), ("user", "hello")],
            input);
    }

    [Fact]
    public async Task Without_an_effort_no_reasoning_options_are_sent_so_the_model_decides()
    {
        await using var host = await WireHost.StartAsync(Api, new Dictionary<string, string?> { ["CHAT_REASONING_EFFORT"] = "" });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        FrameAssert.Done(frames[^1], "stop");
        Assert.False(Assert.Single(host.Fake.Requests).Body.ContainsKey("reasoning"));
    }

    [Fact]
    public async Task Without_a_key_a_bearer_token_for_the_cognitive_services_scope_is_sent()
    {
        var credential = new RecordingCredential("fake-entra-token");
        await using var host = await WireHost.StartAsync(
            new Dictionary<string, string?> { ["CHAT_API"] = Api, ["AZURE_OPENAI_API_KEY"] = null },
            services => services.AddSingleton<TokenCredential>(credential));
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        FrameAssert.Done(frames[^1], "stop");
        var request = Assert.Single(host.Fake.Requests);
        Assert.Equal("Bearer fake-entra-token", request.Headers["Authorization"]);
        Assert.False(request.Headers.ContainsKey("api-key"));
        Assert.All(credential.RequestedScopes, scopes => Assert.Equal(["https://cognitiveservices.azure.com/.default"], scopes));
    }

    [Fact]
    public async Task The_reasoning_summary_streams_as_reasoning_frames_after_thinking_and_before_the_text_and_usage_counts_reasoning_tokens()
    {
        var think = TimeSpan.FromSeconds(1);
        await using var host = await WireHost.StartAsync(Api, new Dictionary<string, string?> { ["CHAT_REASONING_EFFORT"] = "medium" });
        host.Fake.Enqueue(new FakeScript
        {
            Tokens = ["The", " answer"],
            ReasoningSummary = ["**Weighing** the", " question"],
            ThinkTimeByEffort = new Dictionary<string, TimeSpan> { ["medium"] = think },
            ReasoningTokens = 40,
            PromptTokens = 12,
        });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        Assert.Equal(["**Weighing** the", " question"], frames[2..4].Select(f => f.Data["reasoning"]!.GetValue<string>()));
        FrameAssert.Chunks(frames[4..^1], "The", " answer");
        var done = FrameAssert.Done(frames[^1], "stop");
        Assert.Equal(40, done["usage"]!["reasoningTokens"]!.GetValue<int>());
        Assert.Equal(2 + 40, done["usage"]!["outputTokens"]!.GetValue<int>());
        Assert.Equal(12, done["usage"]!["inputTokens"]!.GetValue<int>());
        // The think is the model's (request received → first text), shown as thinking, not as the first byte.
        var thinkingMs = done["metrics"]!["thinkingMs"]!.GetValue<double>();
        Assert.True(thinkingMs >= (think - TimerAllowance).TotalMilliseconds, $"thinkingMs {thinkingMs} covers the {think.TotalMilliseconds} ms think");
        // Timed from the model's side: the thinking frame's own way to the client can take longer than the summary's
        // on a busy machine, so the gap between the two frames may be shorter than the think.
        var received = Assert.Single(host.Fake.Requests).ReceivedTimestamp;
        Assert.True(frames[1].ArrivedTimestamp < frames[2].ArrivedTimestamp, "the thinking frame came before the summary");
        var waited = Stopwatch.GetElapsedTime(received, frames[2].ArrivedTimestamp);
        Assert.True(waited >= think - TimerAllowance, $"the summary came {waited.TotalMilliseconds} ms after the model received the request, within its {think.TotalMilliseconds} ms think");
    }

    [Fact]
    public async Task A_think_longer_than_the_idle_timeout_is_held_by_the_thinking_timeout_though_stream_events_came_before_it()
    {
        // response.created and response.in_progress arrive at once, then nothing while the model thinks: those events
        // must not hand the silence back to the (shorter) idle timeout.
        await using var host = await WireHost.StartAsync(Api, new Dictionary<string, string?>
        {
            ["CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS"] = "1",
            ["CHAT_THINKING_TIMEOUT_SECONDS"] = "30",
        });
        host.Fake.Enqueue(new FakeScript { Tokens = ["after", " thought"], DelayBeforeFirstToken = TimeSpan.FromSeconds(2.5) });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.DoesNotContain(frames, f => f.IsError);
        FrameAssert.Chunks(frames[2..^1], "after", " thought");
        FrameAssert.Done(frames[^1], "stop");
        Assert.Single(host.Fake.Requests);
    }

    [Fact]
    public async Task Max_output_tokens_reached_ends_with_length_and_the_usage_spent()
    {
        await using var host = await WireHost.StartAsync(Api);
        host.Fake.Enqueue(new FakeScript { Tokens = ["cut", " short"], FinishReason = "length", ReasoningTokens = 7, PromptTokens = 9 });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.DoesNotContain(frames, f => f.IsError);
        FrameAssert.Chunks(frames[2..^1], "cut", " short");
        var done = FrameAssert.Done(frames[^1], "length");
        // An incomplete response still bills its tokens: the budget settles to them, so the done frame carries them.
        Assert.Equal(9, done["usage"]!["inputTokens"]!.GetValue<int>());
        Assert.Equal(2 + 7, done["usage"]!["outputTokens"]!.GetValue<int>());
        Assert.Equal(7, done["usage"]!["reasoningTokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_failed_response_after_text_ends_with_an_error_frame_keeps_the_text_and_is_not_retried()
    {
        await using var host = await WireHost.StartAsync(Api);
        host.Fake.Enqueue(new FakeScript { Tokens = ["partial", " text"], ResponseFailedCode = "server_error" });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.Equal("partial text", SseClient.Text(frames));
        var error = FrameAssert.Error(frames[^2], "upstream_unavailable", retryable: true);
        Assert.DoesNotContain("scripted failure", error.ToJsonString(), StringComparison.Ordinal);
        FrameAssert.Done(frames[^1], "error");
        Assert.Single(host.Fake.Requests);
    }

    [Fact]
    public async Task A_rate_limit_error_event_before_any_text_is_retried_and_the_retry_streams_the_reply()
    {
        await using var host = await WireHost.StartAsync(Api);
        host.Fake.Enqueue(new FakeScript { Tokens = ["never"], StreamErrorAfterTokens = 0, StreamErrorCode = "rate_limit_exceeded" });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.DoesNotContain(frames, f => f.IsError);
        Assert.Equal("Hello from the fake model.", SseClient.Text(frames));
        FrameAssert.Done(frames[^1], "stop");
        Assert.Equal(2, host.Fake.Requests.Count);
    }

    [Fact]
    public async Task A_rate_limit_error_event_after_a_reasoning_summary_is_not_retried_since_the_client_saw_the_summary()
    {
        await using var host = await WireHost.StartAsync(Api, new Dictionary<string, string?> { ["CHAT_REASONING_EFFORT"] = "low" });
        host.Fake.Enqueue(new FakeScript { Tokens = ["never"], ReasoningSummary = ["thought"], StreamErrorAfterTokens = 0, StreamErrorCode = "rate_limit_exceeded" });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.Single(frames, f => f.IsReasoning);
        FrameAssert.Error(frames[^2], "rate_limited", retryable: true);
        FrameAssert.Done(frames[^1], "error");
        Assert.Single(host.Fake.Requests);
    }
}
