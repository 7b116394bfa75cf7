using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using ChatFunctions.Models;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Wire;

/// <summary>Runs alone: a latency measured while other tests compete for two cores measures them, not us.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialWireGroup
{
    public const string Name = "Wire (serial)";
}

/// <summary>
/// A browser that leaves mid-reply must stop the model at once: .NET's HTTP handler drains a response disposed mid-body
/// (up to 2 s / 1 MB by default), which keeps the upstream generating, and billing. Measured end to end: client
/// disconnect to upstream abort.
/// </summary>
[Trait("Category", "Wire")]
[Collection(SerialWireGroup.Name)]
public sealed class CancellationTests(ITestOutputHelper output)
{
    private const int Runs = 3;
    private const int ScriptTokens = 50;
    private static readonly TimeSpan TokenInterval = TimeSpan.FromMilliseconds(300);

    /// <summary>What the pitfall costs: a draining handler keeps reading the abandoned response for
    /// <see cref="System.Net.Http.SocketsHttpHandler.ResponseDrainTimeout"/>'s default, 2 s.</summary>
    private static readonly TimeSpan DefaultDrainWindow = new SocketsHttpHandler().ResponseDrainTimeout;

    /// <summary>The bound: half the drain window the app turns off. An abort at once (milliseconds on a quiet machine,
    /// the log prints each run's) passes on a busy machine too; a draining handler's 2 s never does.</summary>
    private static readonly TimeSpan MaxAbortLatency = DefaultDrainWindow / 2;

    /// <summary>Tokens the fake may send between the disconnect and the abort: those due within the bound, plus the one
    /// already on its way.</summary>
    private static readonly int MaxTokensAfterDisconnect = (int)Math.Ceiling(MaxAbortLatency / TokenInterval) + 1;

    /// <summary>A long reply at a slow pace, so the client's disconnect lands between two tokens.</summary>
    private static FakeScript SlowReply() => new()
    {
        Tokens = Enumerable.Range(1, ScriptTokens).Select(i => $"t{i} ").ToList(),
        TokenInterval = TokenInterval,
    };

    /// <summary>With no grace window a disconnect stops the reply at once: nothing waits for a reconnect.</summary>
    private static readonly Dictionary<string, string?> NoGrace = new() { ["CHAT_RESUME_GRACE_SECONDS"] = "0" };

    [Fact]
    public async Task A_client_disconnect_between_tokens_aborts_the_upstream_request_within_half_the_drain_window_every_time()
    {
        await using var host = await WireHost.StartAsync(NoGrace);
        host.Fake.DefaultScript = SlowReply();
        var latencies = new List<TimeSpan>();

        for (var run = 1; run <= Runs; run++)
        {
            using var cts = WireHost.Timeout();
            var aborted = new TaskCompletionSource<RecordedRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnAborted(RecordedRequest r) => aborted.TrySetResult(r);
            host.Fake.RequestAborted += OnAborted;
            try
            {
                var (disconnectedAt, received) = await ReadTwoChunksThenDisconnectAsync(host.App.BaseAddress, cts.Token);

                var request = await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10), cts.Token);
                var latency = Stopwatch.GetElapsedTime(disconnectedAt, request.AbortedTimestamp!.Value);
                latencies.Add(latency);
                var sent = request.TokenSentTimestamps.ToList();
                var sentAfterDisconnect = sent.Count(t => t > disconnectedAt);
                output.WriteLine($"run {run}: upstream abort {latency.TotalMilliseconds:F1} ms after the client disconnect; " +
                    $"the fake sent {sent.Count} of {ScriptTokens} tokens, {sentAfterDisconnect} after the disconnect");

                FrameAssert.Meta(received[0]);
                FrameAssert.Thinking(received[1]);
                FrameAssert.Chunks(received[2..], "t1 ", "t2 ");
                Assert.Equal(run, host.Fake.Requests.Count);
                Assert.Same(host.Fake.Requests.Last(), request);
                Assert.True(latency <= MaxAbortLatency,
                    $"run {run}: the upstream request was aborted {latency.TotalMilliseconds:F1} ms after the client disconnected (limit {MaxAbortLatency.TotalMilliseconds} ms)");
                Assert.True(latency >= TimeSpan.Zero, $"run {run}: the abort came before the disconnect ({latency.TotalMilliseconds:F1} ms)");
                Assert.True(sent.Count < ScriptTokens, $"run {run}: the fake sent all {ScriptTokens} tokens");
                // A draining handler would let the fake send every token due in its 2 s window.
                Assert.InRange(sentAfterDisconnect, 0, MaxTokensAfterDisconnect);

                // The app logs a cancellation, not a failure, once per run.
                await host.Logs.WaitForAsync(e => e.EventId.Id == 3 && e.EventId.Name == "StreamCancelled"
                    && host.Logs.Entries.Count(x => x.EventId.Name == "StreamCancelled") == run, TimeSpan.FromSeconds(10));
            }
            finally
            {
                host.Fake.RequestAborted -= OnAborted;
            }
        }

        output.WriteLine($"latencies (ms): {string.Join(", ", latencies.Select(l => l.TotalMilliseconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}");
        var chatLogs = host.Logs.Entries.Where(e => e.Category.StartsWith("ChatFunctions", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.DoesNotContain(chatLogs, e => e.Level >= LogLevel.Warning);
        Assert.Equal(Runs, chatLogs.Count(e => e.EventId.Name == "StreamCancelled"));
        Assert.DoesNotContain(chatLogs, e => e.EventId.Name is "StreamFinished" or "StreamFailed");
    }

    /// <summary>
    /// The pitfall's own case: the cancellation is noticed while nobody is reading the model's response (here a
    /// middleware holds the consumer between updates after the second chunk, as a slow write to the browser does).
    /// The SDK then disposes the response with no read pending, and a draining handler would keep the upstream
    /// connection open, and the model generating, for up to 2 s.
    /// </summary>
    [Fact]
    public async Task A_client_disconnect_while_the_app_is_between_model_updates_aborts_the_upstream_request_within_half_the_drain_window_every_time()
    {
        await using var host = await WireHost.StartAsync(NoGrace, configureServices: services =>
            services.AddSingleton<IChatClientPipeline>(new PauseAfterTextUpdates(2)));
        host.Fake.DefaultScript = SlowReply();
        var latencies = new List<TimeSpan>();

        for (var run = 1; run <= Runs; run++)
        {
            using var cts = WireHost.Timeout();
            var (disconnectedAt, received) = await ReadTwoChunksThenDisconnectAsync(host.App.BaseAddress, cts.Token);

            var request = host.Fake.Requests.Last();
            await WireHost.WaitForAbortAsync(request, WireHost.AbortHangBound);
            var latency = Stopwatch.GetElapsedTime(disconnectedAt, request.AbortedTimestamp!.Value);
            latencies.Add(latency);
            var sent = request.TokenSentTimestamps.Count;
            output.WriteLine($"run {run}: upstream abort {latency.TotalMilliseconds:F1} ms after the client disconnect; the fake sent {sent} of {ScriptTokens} tokens");

            FrameAssert.Meta(received[0]);
            FrameAssert.Thinking(received[1]);
            FrameAssert.Chunks(received[2..], "t1 ", "t2 ");
            Assert.Equal(run, host.Fake.Requests.Count);
            Assert.True(latency <= MaxAbortLatency,
                $"run {run}: the upstream request was aborted {latency.TotalMilliseconds:F1} ms after the client disconnected (limit {MaxAbortLatency.TotalMilliseconds} ms)");
            Assert.True(latency >= TimeSpan.Zero, $"run {run}: the abort came before the disconnect ({latency.TotalMilliseconds:F1} ms)");
            Assert.True(sent < ScriptTokens, $"run {run}: the fake sent all {ScriptTokens} tokens");
            await host.Logs.WaitForAsync(_ => host.Logs.Entries.Count(x => x.EventId.Name == "StreamCancelled") == run, TimeSpan.FromSeconds(10));
        }

        output.WriteLine($"latencies (ms): {string.Join(", ", latencies.Select(l => l.TotalMilliseconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Category.StartsWith("ChatFunctions", StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
    }

    /// <summary>
    /// Reads until two chunk frames arrived, then drops the connection the way a closing browser tab does. The
    /// handler does not drain: .NET's default would keep reading the reply for up to 2 s before closing, which
    /// would measure the test client, not the app.
    /// </summary>
    private static async Task<(long DisconnectedAt, List<ReceivedFrame> Received)> ReadTwoChunksThenDisconnectAsync(Uri baseAddress, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { ResponseDrainTimeout = TimeSpan.Zero, MaxResponseDrainSize = 0 };
        using var client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        var response = await SseClient.SendAsync(client, SseClient.Post("please write a long answer"), cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = new List<ReceivedFrame>();
        await using (var frames = SseClient.ReadFramesAsync(response, cancellationToken).GetAsyncEnumerator(cancellationToken))
        {
            while (received.Count(f => f.IsChunk) < 2)
            {
                Assert.True(await frames.MoveNextAsync(), "the stream ended before two chunks");
                received.Add(frames.Current);
            }
        }

        var disconnectedAt = Stopwatch.GetTimestamp();
        response.Dispose();
        return (disconnectedAt, received);
    }

    /// <summary>Replaces the app's model-client middleware with one that stops reading after N text updates until cancelled.</summary>
    private sealed class PauseAfterTextUpdates(int count) : IChatClientPipeline
    {
        public IChatClient Build(IChatClient inner, IServiceProvider services) => new PausingClient(inner, count);

        private sealed class PausingClient(IChatClient inner, int count) : DelegatingChatClient(inner)
        {
            public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
                IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
            {
                var texts = 0;
                await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
                {
                    yield return update;
                    if (!string.IsNullOrEmpty(update.Text) && ++texts == count)
                    {
                        // Busy between updates: no read is pending on the model's response when the client leaves.
                        await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, cancellationToken);
                    }
                }
            }
        }
    }
}
