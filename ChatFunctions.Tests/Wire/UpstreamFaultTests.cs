using System.Diagnostics;
using System.Text;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;

namespace ChatFunctions.Tests.Wire;

/// <summary>Scripted upstream faults, through the real SDK, as the browser sees them: each on both APIs (CHAT_API), as
/// the fake serves each its own way (a Chat Completions chunk stream, the Responses API's events).</summary>
[Trait("Category", "Wire")]
public sealed class UpstreamFaultTests
{
    /// <summary>The longest the relay waits for retries before the first token (CHAT_RETRY_BUDGET_SECONDS, its default here).</summary>
    private static readonly TimeSpan RetryBudget = TimeSpan.FromSeconds(new ChatFunctions.Configuration.ChatServiceOptions().RetryBudgetSeconds);

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_429_with_a_short_retry_after_ms_is_retried_after_waiting_and_the_stream_succeeds(string api)
    {
        await using var host = await WireHost.StartAsync(api);
        host.Fake.Enqueue(FakeScript.Failure(429, ("retry-after-ms", "200")));
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..^1], "Hello", " from", " the", " fake", " model", ".");
        FrameAssert.Done(frames[^1], "stop");
        var requests = host.Fake.Requests.ToList();
        Assert.Equal(2, requests.Count);
        var gap = Stopwatch.GetElapsedTime(requests[0].ReceivedTimestamp, requests[1].ReceivedTimestamp);
        Assert.True(gap >= TimeSpan.FromMilliseconds(150), $"the retry came {gap.TotalMilliseconds:F0} ms after the 429, before retry-after-ms 200");
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_429_with_a_huge_retry_after_ms_is_not_waited_out_but_told_to_the_client(string api)
    {
        await using var host = await WireHost.StartAsync(api);
        host.Fake.Enqueue(FakeScript.Failure(429, ("retry-after-ms", "86400000")));
        using var cts = WireHost.Timeout();
        var stopwatch = Stopwatch.StartNew();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        stopwatch.Stop();
        var error = FrameAssert.FailedBeforeAnyChunk(frames, "rate_limited", retryable: true);
        Assert.Equal(86_400_000, error["retryAfterMs"]!.GetValue<long>());
        Assert.Single(host.Fake.Requests);
        // Waiting the retry-after out would take the retry budget at least before giving up: half of it is far from that
        // and far above one answered request on a loaded machine.
        Assert.True(stopwatch.Elapsed < RetryBudget / 2, $"the stream took {stopwatch.Elapsed.TotalSeconds:F1} s: something waited (retry budget {RetryBudget.TotalSeconds} s)");
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task Three_500s_before_the_first_token_end_in_a_retryable_upstream_unavailable_error(string api)
    {
        await using var host = await WireHost.StartAsync(api);
        host.Fake.Enqueue(FakeScript.Failure(500), FakeScript.Failure(500), FakeScript.Failure(500));
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        var error = FrameAssert.FailedBeforeAnyChunk(frames, "upstream_unavailable", retryable: true);
        Assert.False(error.ContainsKey("retryAfterMs"), "the 500s said nothing about when to retry");
        Assert.Equal(3, host.Fake.Requests.Count);
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_connection_reset_after_three_tokens_keeps_them_and_ends_with_a_retryable_error_without_retrying(string api)
    {
        await using var host = await WireHost.StartAsync(api);
        // The reset waits until the three tokens reached the browser: Kestrel's abort would drop unsent bytes.
        var threeChunksArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Fake.Enqueue(new FakeScript { Tokens = ["one", " two", " three", " four", " five"], ResetAfterTokens = 3, ResetTrigger = threeChunksArrived.Task });
        using var cts = WireHost.Timeout();

        var frames = new List<ReceivedFrame>();
        using (var response = await SseClient.SendAsync(host.App.Client, SseClient.Post("hello"), cts.Token))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            await foreach (var frame in SseClient.ReadFramesAsync(response, cts.Token))
            {
                frames.Add(frame);
                if (frames.Count(f => f.IsChunk) == 3)
                {
                    threeChunksArrived.TrySetResult();
                }
            }
        }

        SseClient.AssertWellFormed(frames);
        Assert.Equal(7, frames.Count);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..5], "one", " two", " three");
        var error = FrameAssert.Error(frames[5], "upstream_unavailable", retryable: true);
        Assert.False(error.ContainsKey("retryAfterMs"));
        var done = FrameAssert.Done(frames[6], "error");
        Assert.False(done.ContainsKey("usage"), "the reset stream never sent usage");
        Assert.Single(host.Fake.Requests);
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_stall_mid_stream_ends_with_a_retryable_timeout_and_the_upstream_request_is_aborted(string api)
    {
        await using var host = await WireHost.StartAsync(api, new Dictionary<string, string?> { ["CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS"] = "1" });
        using var cts = WireHost.Timeout();
        // The idle timeout also bounds the wait for the first token: warm up (JIT, connection) so that a busy
        // machine's first call cannot take the 1 s and turn the stall into a retry before the first token.
        FrameAssert.Done((await host.StreamAsync("warm up", null, cts.Token))[^1], "stop");
        host.Fake.Enqueue(new FakeScript { Tokens = ["one", " two", " three", " four"], StallAfterTokens = 2 });
        var stopwatch = Stopwatch.StartNew();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        stopwatch.Stop();
        SseClient.AssertWellFormed(frames);
        Assert.Equal(6, frames.Count);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..4], "one", " two");
        FrameAssert.Error(frames[4], "upstream_timeout", retryable: true);
        FrameAssert.Done(frames[5], "error");
        Assert.Equal(2, host.Fake.Requests.Count);
        var request = host.Fake.Requests.Last();
        await WireHost.WaitForAbortAsync(request, WireHost.AbortHangBound);
        Assert.Equal(2, request.TokenSentTimestamps.Count);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(0.9), $"the stream ended after {stopwatch.Elapsed.TotalSeconds:F2} s, before the 1 s idle timeout");
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_model_that_never_answers_the_request_is_bounded_by_the_idle_timeout_and_the_request_is_aborted(string api)
    {
        // The SDK's own network timeout is off (it re-armed a timer on every read of the body): the idle timeout is
        // what bounds the wait for the status line too, each attempt, and gives up within the retry budget.
        await using var host = await WireHost.StartAsync(api, new Dictionary<string, string?>
        {
            ["CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS"] = "1",
            ["CHAT_RETRY_MAX_ATTEMPTS"] = "2",
        });
        using var cts = WireHost.Timeout();
        // Warm up (JIT, connection) so that a busy machine's first call cannot spend the 1 s before its request is sent.
        FrameAssert.Done((await host.StreamAsync("warm up", null, cts.Token))[^1], "stop");
        var warmUp = host.Fake.Requests.Count;
        var silent = new FakeScript { Tokens = ["never"], DelayBeforeHeaders = TimeSpan.FromMinutes(10) };
        host.Fake.Enqueue(silent);
        host.Fake.Enqueue(silent);
        var stopwatch = Stopwatch.StartNew();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        stopwatch.Stop();
        FrameAssert.FailedBeforeAnyChunk(frames, "upstream_timeout", retryable: true);
        Assert.Equal(2, host.Fake.Requests.Count - warmUp);
        foreach (var request in host.Fake.Requests.Skip(warmUp))
        {
            await WireHost.WaitForAbortAsync(request, WireHost.AbortHangBound);
        }

        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1.9), $"two attempts ended after {stopwatch.Elapsed.TotalSeconds:F2} s, before their 1 s idle timeouts");
        // Both attempts, and the wait between them, fit in the retry budget: the relay gives up within it.
        Assert.True(stopwatch.Elapsed < RetryBudget, $"the stream took {stopwatch.Elapsed.TotalSeconds:F0} s: more than the retry budget ({RetryBudget.TotalSeconds} s)");
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_content_filter_stop_keeps_the_chunks_and_ends_with_content_filter_and_no_error(string api)
    {
        await using var host = await WireHost.StartAsync(api);
        host.Fake.Enqueue(new FakeScript { Tokens = ["Here", " is", " the"], FinishReason = "content_filter" });
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        Assert.Equal(6, frames.Count);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..5], "Here", " is", " the");
        Assert.DoesNotContain(frames, f => f.IsError);
        FrameAssert.Done(frames[5], "content_filter");
        Assert.Single(host.Fake.Requests);
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task While_the_model_is_silent_before_the_first_token_keep_alive_comments_are_sent(string api)
    {
        await using var host = await WireHost.StartAsync(api, new Dictionary<string, string?> { ["CHAT_HEARTBEAT_SECONDS"] = "1" });
        host.Fake.Enqueue(new FakeScript { Tokens = ["late", " reply"], DelayBeforeFirstToken = TimeSpan.FromSeconds(2.5) });
        using var cts = WireHost.Timeout();

        // Raw: SseParser drops comments, and the comments are the point here.
        using var response = await SseClient.SendAsync(host.App.Client, SseClient.Post("hello"), cts.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var raw = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync(cts.Token));

        var lines = raw.Split('\n');
        var firstChunkLine = Array.FindIndex(lines, l => l.StartsWith("data: {\"chunk\"", StringComparison.Ordinal));
        var firstKeepAlive = Array.IndexOf(lines, ": keep-alive");
        Assert.True(firstChunkLine > 0, "the stream has chunks:\n" + raw);
        Assert.True(firstKeepAlive >= 0 && firstKeepAlive < firstChunkLine, "a keep-alive comment line comes before the first chunk:\n" + raw);
        // The think is shown as such: the thinking frame comes before the keep-alives that hold the connection through it.
        var thinkingLine = Array.FindIndex(lines, l => l.StartsWith("data: {\"thinking\"", StringComparison.Ordinal));
        Assert.True(thinkingLine > 0 && thinkingLine < firstKeepAlive, "the thinking frame comes before the first keep-alive:\n" + raw);
        var keepAlivesBeforeChunk = lines.Take(firstChunkLine).Count(l => l == ": keep-alive");
        Assert.InRange(keepAlivesBeforeChunk, 1, 3);
        // Each comment is its own block: never inside a frame.
        Assert.Contains("\n\n: keep-alive\n\n", raw, StringComparison.Ordinal);

        var frames = WireHost.ParseFrames(raw);
        SseClient.AssertWellFormed(frames);
        FrameAssert.Meta(frames[0]);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..^1], "late", " reply");
        FrameAssert.Done(frames[^1], "stop");
    }
}
