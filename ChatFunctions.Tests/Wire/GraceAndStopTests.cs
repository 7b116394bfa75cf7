using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// A disconnect is not a stop: the model call goes on for the grace window, so a reconnect continues the
/// same reply; when nobody comes back, the upstream is cancelled so billing stops; an explicit DELETE stops it at once.
/// Measured against the fake Azure OpenAI, which records when the app abandoned its request. With grace 0 a disconnect
/// aborts at once: <see cref="CancellationTests"/>. The app runs as its own process, so its timers keep
/// time whatever else the test process is running (a thread pool shared with hundreds of parallel tests delayed an
/// in-process app's one-second timer by half a second).
/// </summary>
[Trait("Category", "Wire")]
[Collection(SerialWireGroup.Name)]
public sealed class GraceAndStopTests(ITestOutputHelper output)
{
    private const int GraceSeconds = 1;
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(GraceSeconds);

    /// <summary>The allowance on each timed abort: half the grace window. An abort at once (milliseconds on a quiet
    /// machine; each run prints its own) passes with a busy machine's scheduling delays; the faults these tests guard
    /// against do not: a DELETE handled as a disconnect aborts a whole grace window later, and an expired grace that is
    /// noticed late (or never) misses grace + half of it.</summary>
    private static readonly TimeSpan Margin = Grace / 2;

    /// <summary>The fake model here, the app (grace 1 s, in-memory store) as its own process.</summary>
    private sealed class Host : IAsyncDisposable
    {
        private Host(FakeAzureOpenAIServer fake, AppProcess app)
        {
            Fake = fake;
            App = app;
        }

        public FakeAzureOpenAIServer Fake { get; }

        public AppProcess App { get; }

        public static async Task<Host> StartAsync(string api)
        {
            var fake = await FakeAzureOpenAIServer.StartAsync();
            var settings = Resumption.TwoInstances.Settings(fake.Endpoint, "");
            settings["CHAT_API"] = api;
            settings.Remove("AzureWebJobsStorage");
            settings["CHAT_RESUME_GRACE_SECONDS"] = GraceSeconds.ToString(CultureInfo.InvariantCulture);
            try
            {
                var host = new Host(fake, await AppProcess.StartAsync(settings));
                await host.WarmUpAsync();
                return host;
            }
            catch
            {
                await fake.DisposeAsync();
                throw;
            }
        }

        /// <summary>A fresh process compiles each path on first use (a first resume, abort or stop can take a few hundred
        /// ms, most of the margin on a busy machine): run a reply, its resume, one abandoned reply and one stopped reply
        /// before anything is timed.</summary>
        private async Task WarmUpAsync()
        {
            using var client = RawSse.NonDrainingClient(App.BaseAddress);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var slow = new FakeScript { Tokens = [.. Enumerable.Repeat("w ", 50)], TokenInterval = TimeSpan.FromMilliseconds(50) };
            Fake.Enqueue(FakeScript.Reply("warm", "up"), slow, slow);
            var done = await RawSse.ReadAllAsync(client, RawSse.Post("warm-up"), cts.Token);
            var id = RawSse.StreamIdOf(done);
            await RawSse.ReadAllAsync(client, RawSse.Resume(id, $"{id}:1"), cts.Token);
            await RawSse.ReadFramesAsync(client, RawSse.Post("warm-up abandoned"), 3, cts.Token);
            await WireHost.WaitForAbortAsync(Fake.Requests.Last(), TimeSpan.FromSeconds(10));
            await WaitForOutputAsync(AbandonedLog, TimeSpan.FromSeconds(5));

            var (stopped, reader) = await RawSse.OpenPostAsync(client, "warm-up stopped", cts.Token);
            using (stopped)
            {
                var first = await reader.ReadAsync(3, cts.Token);
                using var stop = await client.DeleteAsync($"/api/chat/streams/{RawSse.StreamIdOf(first[0].Text)}", cts.Token);
                Assert.Equal(HttpStatusCode.NoContent, stop.StatusCode);
                await WireHost.WaitForAbortAsync(Fake.Requests.Last(), TimeSpan.FromSeconds(10));
            }
        }

        /// <summary>The model calls after the warm-up.</summary>
        public IReadOnlyList<RecordedRequest> Requests => [.. Fake.Requests.Skip(3)];

        /// <summary>Waits until the app's console output says something.</summary>
        public async Task WaitForOutputAsync(string text, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (!App.Output.Contains(text, StringComparison.Ordinal))
            {
                Assert.True(clock.Elapsed < timeout, $"the app never logged '{text}':\n{App.Output}");
                await Task.Delay(20);
            }
        }

        public int AbandonedCount => App.Output.Split(AbandonedLog).Length - 1;

        public async Task WaitForAbandonedAsync(int count, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (AbandonedCount < count)
            {
                Assert.True(clock.Elapsed < timeout, $"the app logged '{AbandonedLog}' {AbandonedCount} times, not {count}:\n{App.Output}");
                await Task.Delay(20);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            await Fake.DisposeAsync();
        }
    }

    private const string AbandonedLog = "no reader came back within";

    private static FakeScript PacedReply(int tokens, int intervalMs) => new()
    {
        Tokens = [.. Enumerable.Range(1, tokens).Select(i => $"t{i} ")],
        TokenInterval = TimeSpan.FromMilliseconds(intervalMs),
    };

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task When_nobody_resumes_within_the_grace_window_the_upstream_is_aborted_within_grace_plus_half_of_it_and_the_log_ends_cancelled(string api)
    {
        await using var host = await Host.StartAsync(api);
        host.Fake.DefaultScript = PacedReply(50, 100);
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        using var cts = WireHost.Timeout();

        var first = await RawSse.ReadFramesAsync(client, RawSse.Post("grace expiry"), 3, cts.Token);
        var disconnectedAt = Stopwatch.GetTimestamp();
        var request = Assert.Single(host.Requests);
        await WireHost.WaitForAbortAsync(request, TimeSpan.FromSeconds(10));

        var afterDisconnect = Stopwatch.GetElapsedTime(disconnectedAt, request.AbortedTimestamp!.Value);
        output.WriteLine($"upstream aborted {afterDisconnect.TotalMilliseconds:F1} ms after the disconnect (grace {Grace.TotalMilliseconds} ms); the fake sent {request.TokenSentTimestamps.Count} of 50 tokens");
        Assert.True(afterDisconnect >= Grace - TimeSpan.FromMilliseconds(20), $"aborted {afterDisconnect.TotalMilliseconds:F1} ms after the disconnect: before the grace window ended");
        Assert.True(afterDisconnect <= Grace + Margin, $"aborted {afterDisconnect.TotalMilliseconds:F1} ms after the disconnect (limit {(Grace + Margin).TotalMilliseconds} ms)");
        Assert.True(request.TokenSentTimestamps.Count < 50);

        // A late resume sees how it ended: the frames generated meanwhile, then done with finishReason cancelled.
        var streamId = RawSse.StreamIdOf(first[0].Text);
        var replay = WireHost.ParseFrames(await RawSse.ReadAllAsync(client, RawSse.Resume(streamId, null), cts.Token));
        SseClient.AssertWellFormed(replay);
        FrameAssert.Done(replay[^1], "cancelled");
        // Every token the app read is in the log; the one in flight when the abort landed may not be.
        Assert.InRange(replay.Count(f => f.IsChunk), request.TokenSentTimestamps.Count - 1, request.TokenSentTimestamps.Count);
        await host.WaitForAbandonedAsync(2, TimeSpan.FromSeconds(5));
        Assert.Single(host.Requests);
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_reconnect_within_the_grace_window_continues_the_same_reply_and_the_upstream_is_never_aborted(string api)
    {
        await using var host = await Host.StartAsync(api);
        host.Fake.DefaultScript = PacedReply(30, 80);
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        using var cts = WireHost.Timeout();

        var first = await RawSse.ReadFramesAsync(client, RawSse.Post("grace reconnect"), 3, cts.Token);
        var disconnectedAt = Stopwatch.GetTimestamp();
        await Task.Delay(Grace / 2, cts.Token);
        var streamId = RawSse.StreamIdOf(first[0].Text);
        var resumedAt = Stopwatch.GetTimestamp();
        var rest = await RawSse.ReadAllAsync(client, RawSse.Resume(streamId, $"{streamId}:3"), cts.Token);
        var doneAfter = Stopwatch.GetElapsedTime(disconnectedAt);
        output.WriteLine($"resumed {Stopwatch.GetElapsedTime(disconnectedAt, resumedAt).TotalMilliseconds:F0} ms after the disconnect; the app said:\n" +
            string.Join('\n', host.App.Output.Split('\n').Where(l => l.Contains("Chat stream", StringComparison.Ordinal))));

        var frames = WireHost.ParseFrames(string.Concat(first.Select(f => f.Text)) + rest);
        SseClient.AssertWellFormed(frames);
        FrameAssert.Done(frames[^1], "stop");
        Assert.Equal(string.Concat(Enumerable.Range(1, 30).Select(i => $"t{i} ")), SseClient.Text(frames));
        var request = Assert.Single(host.Requests);
        Assert.Null(request.AbortedTimestamp);
        Assert.Equal(30, request.TokenSentTimestamps.Count);
        // The reply outlived the grace window after the disconnect, so only the reconnect kept it going.
        Assert.True(doneAfter > Grace + Margin, $"the reply ended {doneAfter.TotalMilliseconds:F0} ms after the disconnect: too soon to test the grace window");
        Assert.Equal(1, host.AbandonedCount); // the warm-up's only
    }

    [Theory]
    [InlineData(true, "chatCompletions")]
    [InlineData(false, "chatCompletions")]
    [InlineData(true, "responses")]
    [InlineData(false, "responses")]
    public async Task DELETE_aborts_the_upstream_within_half_a_grace_window_on_the_producing_instance_and_the_stream_ends_cancelled(bool readerAttached, string api)
    {
        await using var host = await Host.StartAsync(api);
        host.Fake.DefaultScript = PacedReply(50, 100);
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        var latencies = new List<double>();
        for (var run = 1; run <= 3; run++)
        {
            using var cts = WireHost.Timeout();
            var (response, reader) = await RawSse.OpenPostAsync(client, $"stop {run}", cts.Token);
            var first = await reader.ReadAsync(3, cts.Token);
            var streamId = RawSse.StreamIdOf(first[0].Text);
            if (!readerAttached)
            {
                response.Dispose();
                await Task.Delay(200, cts.Token);
            }

            var request = host.Requests[^1];
            Assert.Null(request.AbortedTimestamp);
            var deleteSent = Stopwatch.GetTimestamp();
            using (var stop = await client.DeleteAsync($"/api/chat/streams/{streamId}", cts.Token))
            {
                Assert.Equal(HttpStatusCode.NoContent, stop.StatusCode);
            }

            await WireHost.WaitForAbortAsync(request, TimeSpan.FromSeconds(5));
            var latency = Stopwatch.GetElapsedTime(deleteSent, request.AbortedTimestamp!.Value);
            latencies.Add(latency.TotalMilliseconds);
            Assert.True(latency <= Margin, $"run {run}: the upstream was aborted {latency.TotalMilliseconds:F1} ms after DELETE (limit {Margin.TotalMilliseconds} ms)");

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
    }
}
