using System.Diagnostics;
using System.Globalization;
using System.Net;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// A disconnect is not a stop: the model call goes on for the grace window, so a reconnect continues the
/// same reply; when nobody comes back, the upstream is cancelled so billing stops; an explicit DELETE stops it at once.
/// Measured against the fake Azure OpenAI, which records when the app abandoned its request. With grace 0 a disconnect
/// aborts at once: <see cref="CancellationTests"/>. The app runs in this process (these tests run alone, in the serial
/// wire group), so a test waits until the app has seen a client's drop (its reply has no reader left) instead of
/// sleeping and hoping it has.
/// </summary>
[Trait("Category", "Wire")]
[Collection(SerialWireGroup.Name)]
public sealed class GraceAndStopTests(ITestOutputHelper output)
{
    private const int GraceSeconds = 2;
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(GraceSeconds);

    /// <summary>The allowance on a timed abort after the grace window: half the window, for scheduling (the timer
    /// firing late, the stop reaching the model call, the fake seeing the reset); a loaded machine adds
    /// <see cref="AbortHandOffs"/> times what a <see cref="LatenessProbe"/> saw. An abort at the window's end passes; the
    /// faults these tests guard against do not: an expired window noticed a whole window late (or never).</summary>
    private static readonly TimeSpan SchedulingAllowance = Grace / 2;

    /// <summary>The waits for this process's timers or threads between the window's end and the fake seeing the reset:
    /// the watcher's timer, the stop's continuations that end the model call, the fake's read of the reset.</summary>
    private const int AbortHandOffs = 3;

    /// <summary>Timers fire on the clock's tick, never before the time asked for; this is the rounding of that.</summary>
    private static readonly TimeSpan TimerAllowance = TimeSpan.FromMilliseconds(20);

    /// <summary>The grace window of the DELETE tests: long, so that what tells a DELETE that stops the model call from
    /// one that only lets the grace window run out is not a scheduling margin but seconds.</summary>
    private const int StopGraceSeconds = 30;

    /// <summary>The bound on DELETE → upstream abort: a third of <see cref="StopGraceSeconds"/>. A stop that works aborts
    /// at once (milliseconds on a quiet machine; each run prints its own); a DELETE handled as a disconnect aborts only
    /// when the grace window ends, and one that does nothing never does (the reply outlasts the bound).</summary>
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(StopGraceSeconds) / 3;

    /// <summary>How long a hang may last before a wait for the app fails: it ends a test that would hang, it times nothing.</summary>
    private static readonly TimeSpan HangBound = TimeSpan.FromSeconds(30);

    /// <summary>The fake model and the app (in-memory store, the given grace window) in this process.</summary>
    private sealed class Host : IAsyncDisposable
    {
        private readonly WireHost _wire;
        private int _warmUpRequests;

        private Host(WireHost wire) => _wire = wire;

        public FakeAzureOpenAIServer Fake => _wire.Fake;

        public AppServer App => _wire.App;

        public static async Task<Host> StartAsync(string api, int graceSeconds, bool warmUp)
        {
            var host = new Host(await WireHost.StartAsync(api, new Dictionary<string, string?>
            {
                ["CHAT_RESUME_GRACE_SECONDS"] = graceSeconds.ToString(CultureInfo.InvariantCulture),
            }));
            try
            {
                if (warmUp)
                {
                    await host.WarmUpAsync();
                }

                return host;
            }
            catch
            {
                await host.DisposeAsync();
                throw;
            }
        }

        /// <summary>Each path compiles on first use (a first resume, abort or stop can take a few hundred ms on a busy
        /// machine, a good part of the allowance): run a reply, its resume and one abandoned reply before anything is
        /// timed.</summary>
        private async Task WarmUpAsync()
        {
            using var client = RawSse.NonDrainingClient(App.BaseAddress);
            using var cts = new CancellationTokenSource(HangBound);
            var slow = new FakeScript { Tokens = [.. Enumerable.Repeat("w ", 100)], TokenInterval = TimeSpan.FromMilliseconds(50) };
            Fake.Enqueue(FakeScript.Reply("warm", "up"), slow);
            var done = await RawSse.ReadAllAsync(client, RawSse.Post("warm-up"), cts.Token);
            var id = RawSse.StreamIdOf(done);
            await RawSse.ReadAllAsync(client, RawSse.Resume(id, $"{id}:1"), cts.Token);
            await RawSse.ReadFramesAsync(client, RawSse.Post("warm-up abandoned"), 3, cts.Token);
            await WireHost.WaitForAbortAsync(Fake.Requests.Last(), HangBound);
            await WaitForAbandonedAsync(1);
            _warmUpRequests = Fake.Requests.Count;
        }

        /// <summary>The model calls after the warm-up.</summary>
        public IReadOnlyList<RecordedRequest> Requests => [.. Fake.Requests.Skip(_warmUpRequests)];

        /// <summary>The app's live reply of <paramref name="streamId"/> (held by the test, so it can be read after the
        /// reply has left the registry).</summary>
        public LiveReply Reply(string streamId) =>
            App.Services.GetRequiredService<LiveReplies>().Find(streamId) ?? throw new InvalidOperationException($"no live reply {streamId}");

        /// <summary>Waits until the app's grace watcher counts <paramref name="reply"/>'s window down: the client's drop
        /// reached the app and its last reader left. Returns when the test saw that, which is after the window began.</summary>
        public static async Task<long> WaitUntilWatchedAsync(LiveReply reply)
        {
            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref reply.Watching) == 0)
            {
                Assert.True(clock.Elapsed < HangBound, $"the app never started the grace window: readers {reply.Log.ReaderCount}, completed {reply.Log.IsCompleted}");
                await Task.Delay(Poll.StateInterval);
            }

            return Stopwatch.GetTimestamp();
        }

        public int AbandonedCount => _wire.Logs.Entries.Count(e => e.EventId.Name == AbandonedEvent);

        public async Task WaitForAbandonedAsync(int count) =>
            await _wire.Logs.WaitForAsync(_ => AbandonedCount >= count, HangBound);

        public int StopsRequested => _wire.Logs.Entries.Count(e => e.EventId.Name == StopRequestedEvent);

        /// <summary>The chunks the app had relayed when it cancelled request <paramref name="requestId"/>'s reply, from
        /// its "cancelled after N chunks" log event.</summary>
        public int CancelledAfterChunks(string requestId)
        {
            var entry = Assert.Single(_wire.Logs.Entries, e => e.EventId.Name == "StreamCancelled"
                && e.State.Any(kv => kv.Key == "RequestId" && Equals(kv.Value, requestId)));
            return Assert.IsType<int>(entry.State.Single(kv => kv.Key == "Chunks").Value);
        }

        public string StreamLogLines() => string.Join('\n', _wire.Logs.Entries.Where(e => e.Message.StartsWith("Chat stream", StringComparison.Ordinal)));

        public ValueTask DisposeAsync() => _wire.DisposeAsync();
    }

    /// <summary>The grace watcher's log event: "no reader came back within …; stopping the model call".</summary>
    private const string AbandonedEvent = "StreamAbandoned";

    /// <summary>The stop function's log event: "stop requested".</summary>
    private const string StopRequestedEvent = "StopRequested";

    private static FakeScript PacedReply(int tokens, int intervalMs) => new()
    {
        Tokens = [.. Enumerable.Range(1, tokens).Select(i => $"t{i} ")],
        TokenInterval = TimeSpan.FromMilliseconds(intervalMs),
    };

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task When_nobody_resumes_within_the_grace_window_the_upstream_is_aborted_at_its_end_within_a_scheduling_allowance_and_the_log_ends_cancelled(string api)
    {
        await using var host = await Host.StartAsync(api, GraceSeconds, warmUp: true);
        const int tokens = 100;
        host.Fake.DefaultScript = PacedReply(tokens, 100);
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        using var cts = WireHost.Timeout();

        await using var lateness = LatenessProbe.Start();
        var first = await RawSse.ReadFramesAsync(client, RawSse.Post("grace expiry"), 3, cts.Token);
        var disconnectedAt = Stopwatch.GetTimestamp();
        var streamId = RawSse.StreamIdOf(first[0].Text);
        var reply = host.Reply(streamId);
        var watchedSeenAt = await Host.WaitUntilWatchedAsync(reply);
        var request = Assert.Single(host.Requests);
        await WireHost.WaitForAbortAsync(request, HangBound);

        // Never before the window ends (it counts from the drop, which the client made first); at most the allowance
        // after it ends (counted from when the test saw the app notice the drop, which is after the app noticed it).
        var afterDisconnect = Stopwatch.GetElapsedTime(disconnectedAt, request.AbortedTimestamp!.Value);
        var afterWatched = Stopwatch.GetElapsedTime(watchedSeenAt, request.AbortedTimestamp!.Value);
        output.WriteLine($"upstream aborted {afterDisconnect.TotalMilliseconds:F1} ms after the disconnect, {afterWatched.TotalMilliseconds:F1} ms after the test saw the app begin the window " +
            $"(grace {Grace.TotalMilliseconds} ms, allowance {SchedulingAllowance.TotalMilliseconds} ms, timers up to {lateness.MaxLateness.TotalMilliseconds:F0} ms late); the fake sent {request.TokenSentTimestamps.Count} of {tokens} tokens");
        Assert.True(afterDisconnect >= Grace - TimerAllowance, $"aborted {afterDisconnect.TotalMilliseconds:F1} ms after the disconnect: before the grace window ended");
        var limit = Grace + SchedulingAllowance + (AbortHandOffs * lateness.MaxLateness);
        Assert.True(afterWatched <= limit, $"aborted {afterWatched.TotalMilliseconds:F1} ms after the app began the grace window " +
            $"(limit {limit.TotalMilliseconds:F0} ms with this process's timers up to {lateness.MaxLateness.TotalMilliseconds:F0} ms late)");
        Assert.True(request.TokenSentTimestamps.Count < tokens);
        Assert.Equal(StreamStopReason.Abandoned, reply.StopReason);

        // A late resume sees how it ended: the frames generated meanwhile, then done with finishReason cancelled.
        var replay = WireHost.ParseFrames(await RawSse.ReadAllAsync(client, RawSse.Resume(streamId, null), cts.Token));
        SseClient.AssertWellFormed(replay);
        FrameAssert.Done(replay[^1], "cancelled");
        // Every token the app read is in the log, in the model's order: the replayed chunks are exactly the chunks the
        // app counted when it stopped, and the model's first ones. Tokens the fake wrote after those were still on their
        // way (socket buffers, a busy machine's scheduler) when the abort landed: the app never read them.
        var relayed = host.CancelledAfterChunks(reply.RequestId);
        var replayed = replay.Where(f => f.IsChunk).Select(f => f.Chunk).ToList();
        Assert.Equal(relayed, replayed.Count);
        Assert.Equal(PacedReply(tokens, 100).Tokens.Take(relayed), replayed);
        // At least the chunk the client saw before it left (its third frame, after meta and thinking).
        Assert.InRange(relayed, 1, request.TokenSentTimestamps.Count);
        await host.WaitForAbandonedAsync(2);
        Assert.Single(host.Requests);
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_reconnect_within_the_grace_window_continues_the_same_reply_and_the_upstream_is_never_aborted(string api)
    {
        await using var host = await Host.StartAsync(api, GraceSeconds, warmUp: false);
        // 8 s at the model's pace: it outlasts the grace window after the drop whatever the machine's load.
        const int tokens = 80;
        host.Fake.DefaultScript = PacedReply(tokens, 100);
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        using var cts = WireHost.Timeout();

        var first = await RawSse.ReadFramesAsync(client, RawSse.Post("grace reconnect"), 3, cts.Token);
        var streamId = RawSse.StreamIdOf(first[0].Text);
        var reply = host.Reply(streamId);
        // The app has seen the drop: its grace window counts from here, and only the reconnect below can keep the reply.
        var watchedSeenAt = await Host.WaitUntilWatchedAsync(reply);
        var rest = await RawSse.ReadAllAsync(client, RawSse.Resume(streamId, $"{streamId}:3"), cts.Token);
        output.WriteLine($"resumed once the app's grace window began; the reply ended {Stopwatch.GetElapsedTime(watchedSeenAt).TotalMilliseconds:F0} ms later; the app said:\n{host.StreamLogLines()}");

        var frames = WireHost.ParseFrames(string.Concat(first.Select(f => f.Text)) + rest);
        SseClient.AssertWellFormed(frames);
        FrameAssert.Done(frames[^1], "stop");
        Assert.Equal(string.Concat(Enumerable.Range(1, tokens).Select(i => $"t{i} ")), SseClient.Text(frames));
        var request = Assert.Single(host.Requests);
        Assert.Null(request.AbortedTimestamp);
        Assert.Equal(tokens, request.TokenSentTimestamps.Count);
        // The model was still sending when the window ended (it began before the test saw it begin), so the watcher
        // woke while the reply went on, and only the reconnect kept it going.
        var lastSent = Stopwatch.GetElapsedTime(watchedSeenAt, request.TokenSentTimestamps.Max());
        Assert.True(lastSent > Grace, $"the model's last token came {lastSent.TotalMilliseconds:F0} ms after the window began: too soon to test the grace window");
        Assert.Equal(StreamStopReason.None, reply.StopReason);
        Assert.Equal(0, host.AbandonedCount);
    }

    [Theory]
    [InlineData(true, "chatCompletions")]
    [InlineData(false, "chatCompletions")]
    [InlineData(true, "responses")]
    [InlineData(false, "responses")]
    public async Task DELETE_aborts_the_upstream_on_the_producing_instance_long_before_the_grace_window_could_and_the_stream_ends_cancelled(bool readerAttached, string api)
    {
        await using var host = await Host.StartAsync(api, StopGraceSeconds, warmUp: false);
        // The reply outlasts the bound: a DELETE that stops nothing shows as a model that finished, or no abort at all.
        const int tokens = 200;
        host.Fake.DefaultScript = PacedReply(tokens, 100);
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        var latencies = new List<double>();
        for (var run = 1; run <= 3; run++)
        {
            using var cts = WireHost.Timeout();
            var (response, reader) = await RawSse.OpenPostAsync(client, $"stop {run}", cts.Token);
            var first = await reader.ReadAsync(3, cts.Token);
            var streamId = RawSse.StreamIdOf(first[0].Text);
            var reply = host.Reply(streamId);
            if (!readerAttached)
            {
                response.Dispose();
                await Host.WaitUntilWatchedAsync(reply);
            }

            var request = host.Requests[^1];
            Assert.Null(request.AbortedTimestamp);
            var stopsBefore = host.StopsRequested;
            var deleteSent = Stopwatch.GetTimestamp();
            using (var stop = await client.DeleteAsync($"/api/chat/streams/{streamId}", cts.Token))
            {
                Assert.Equal(HttpStatusCode.NoContent, stop.StatusCode);
            }

            // The stop went to the reply here, before the 204: the DELETE's own path, not a disconnect's.
            Assert.Equal(stopsBefore + 1, host.StopsRequested);

            await WireHost.WaitForAbortAsync(request, HangBound);
            var latency = Stopwatch.GetElapsedTime(deleteSent, request.AbortedTimestamp!.Value);
            latencies.Add(latency.TotalMilliseconds);
            Assert.True(latency <= StopBound, $"run {run}: the upstream was aborted {latency.TotalMilliseconds:F1} ms after DELETE (bound {StopBound.TotalMilliseconds} ms, grace {StopGraceSeconds} s)");
            Assert.True(request.TokenSentTimestamps.Count < tokens, $"run {run}: the model finished the reply: nothing was stopped");
            Assert.Equal(StreamStopReason.Cancelled, reply.StopReason);

            // The reader still attached sees the end; a later one sees it in the log.
            var rest = readerAttached
                ? string.Concat((await reader.ReadAsync(int.MaxValue, cts.Token)).Select(f => f.Text))
                : await RawSse.ReadAllAsync(client, RawSse.Resume(streamId, $"{streamId}:3"), cts.Token);
            response.Dispose();
            var frames = WireHost.ParseFrames(string.Concat(first.Select(f => f.Text)) + rest);
            SseClient.AssertWellFormed(frames);
            FrameAssert.Done(frames[^1], "cancelled");

            // Idempotent.
            using var again = await client.DeleteAsync($"/api/chat/streams/{streamId}", cts.Token);
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        output.WriteLine($"reader attached: {readerAttached}; DELETE → upstream abort (ms): {string.Join(", ", latencies.Select(l => l.ToString("F1", CultureInfo.InvariantCulture)))}");
        Assert.Equal(3, host.Requests.Count);
        // Stopped by the DELETEs, never by a grace window running out (the done frames above are in: no watcher can
        // abandon an ended reply any more).
        Assert.Equal(0, host.AbandonedCount);
    }
}
