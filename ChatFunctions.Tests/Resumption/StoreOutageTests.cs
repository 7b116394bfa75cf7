using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// Storage goes away mid-stream, which must cost resumability only: Azurite is
/// stopped while a reply streams from instance A. The live reply completes byte-complete; a resume on instance B (a
/// separate process that can only read the store) fails cleanly with a problem, never a 500 or a hang; A logs the
/// failure and counts it in chatfunctions.stream.store_failures. It starts and kills its own Azurite, in the Azurite
/// collection so that Azurite's first-use install never runs twice at once.
/// </summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Resume")]
public sealed class StoreOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task When_storage_stops_mid_stream_the_live_reply_completes_and_a_resume_elsewhere_fails_cleanly_and_the_failure_is_logged_and_counted()
    {
        var azurite = new AzuriteServer();
        await azurite.InitializeAsync();
        var stopped = false;
        try
        {
            var connectionString = azurite.ConnectionString();
            await using var a = await WireHost.StartAsync(new Dictionary<string, string?> { ["AzureWebJobsStorage"] = connectionString });
            // The model holds the second half of its reply until storage has stopped: the outage is mid-reply however
            // long stopping Azurite takes.
            var storageStopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            a.Fake.DefaultScript = ResumeAtRandomCutsTests.DeterministicReply(TimeSpan.FromMilliseconds(50)) with
            {
                HoldAfterTokens = 20,
                Hold = storageStopped.Task,
            };
            await using var b = await AppProcess.StartAsync(TwoInstances.Settings(a.Fake.Endpoint, connectionString));
            using var failures = new StoreFailureCounter(a.App.Services.GetRequiredService<IMeterFactory>());
            using var clientA = RawSse.NonDrainingClient(a.App.BaseAddress);
            using var clientB = RawSse.NonDrainingClient(b.BaseAddress);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));

            // Healthy first: the stream is in the store and B can follow it.
            var (response, reader) = await RawSse.OpenPostAsync(clientA, "outage", cts.Token);
            using var cut = response;
            var first = await reader.ReadAsync(4, cts.Token);
            var streamId = RawSse.StreamIdOf(first[0].Text);
            // The first frames are stored (the first append lands a flush interval after the start): polled in the store.
            var store = a.App.Services.GetRequiredService<IStreamLogStore>();
            // The bound only ends a test that would hang.
            var storing = Stopwatch.StartNew();
            while ((await store.ReadAsync(streamId, 0, cts.Token))?.Bytes.Length is not > 0)
            {
                Assert.True(storing.Elapsed < TimeSpan.FromSeconds(30), "the stream's first frames never reached the store");
                await Task.Delay(Poll.RequestInterval, cts.Token);
            }

            await azurite.DisposeAsync();
            stopped = true;
            storageStopped.SetResult();
            var stoppedAt = Stopwatch.GetTimestamp();

            // The live reply completes, every token, in order, ending the way a complete reply ends.
            var rest = await reader.ReadAsync(int.MaxValue, cts.Token);
            var transcript = string.Concat(first.Concat(rest).Select(f => f.Text));
            var frames = WireHost.ParseFrames(transcript);
            SseClient.AssertWellFormed(frames);
            FrameAssert.Done(frames[^1], "stop");
            Assert.Equal(string.Concat(a.Fake.DefaultScript.Tokens), SseClient.Text(frames));
            Assert.True(a.Fake.Requests.Single().TokenSentTimestamps.Count(t => t > stoppedAt) >= 10, "the reply was nearly over before storage stopped: not a mid-stream outage");

            // A resume on B cannot read the store: a clean problem, quickly.
            var resumeStarted = Stopwatch.GetTimestamp();
            using var resume = await clientB.SendAsync(RawSse.Resume(streamId, $"{streamId}:4"), cts.Token);
            var resumeTook = Stopwatch.GetElapsedTime(resumeStarted);
            var body = await resume.Content.ReadAsStringAsync(cts.Token);
            output.WriteLine($"resume on B with storage down: {(int)resume.StatusCode} after {resumeTook.TotalMilliseconds:F0} ms: {body}");
            Assert.True(resume.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.NotFound, $"got {(int)resume.StatusCode}: {body}");
            Assert.Equal("application/problem+json", resume.Content.Headers.ContentType?.MediaType);
            var problem = JsonNode.Parse(body)!.AsObject();
            Assert.True(problem["errors"]!.AsObject().ContainsKey(resume.StatusCode == HttpStatusCode.ServiceUnavailable ? "storage" : "streamId"), body);
            Assert.DoesNotContain("model", problem["title"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
            Assert.True(resumeTook < ResumeBound, $"the resume took {resumeTook.TotalSeconds:F1} s (bound {ResumeBound.TotalSeconds:F2} s)");

            using var stop = await clientB.DeleteAsync($"/api/chat/streams/{streamId}", cts.Token);
            Assert.True(stop.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.NotFound, $"DELETE on B: {(int)stop.StatusCode}");

            // On A, the producer, the stream still resumes from memory: from the frames written after storage stopped
            // (the model held them back until then). Frames before may have been stored and released from memory, and
            // only the store can give those back.
            var all = first.Concat(rest).ToList();
            var afterHold = all.Select((f, i) => (f, i)).Where(x => x.f.Text.Contains("\"chunk\"", StringComparison.Ordinal)).ElementAt(20).i;
            var lastBefore = all[afterHold - 1].Text.Split('\n').First(l => l.StartsWith("id: ", StringComparison.Ordinal))[4..];
            Assert.Equal(string.Concat(all.Skip(afterHold).Select(f => f.Text)),
                await RawSse.ReadAllAsync(clientA, RawSse.Resume(streamId, lastBefore), cts.Token));

            // Logged (without text) and counted: the persister's first append after the outage fails (within the store's
            // operation timeout) and is logged, and the counter follows the log entry in the same call. Both waits are
            // for those events; their bounds only end a test that would hang.
            var logged = await a.Logs.WaitForAsync(e => e.EventId.Name == "StoreWriteFailed", TimeSpan.FromSeconds(20));
            output.WriteLine($"logged: {logged}");
            Assert.DoesNotContain(a.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
            var deadline = Stopwatch.StartNew();
            while (failures.Count == 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(Poll.StateInterval, cts.Token);
            }

            output.WriteLine($"chatfunctions.stream.store_failures: {failures.Count} ({string.Join(", ", failures.Operations)})");
            Assert.True(failures.Count >= 1, "chatfunctions.stream.store_failures was not incremented");
            Assert.Single(a.Fake.Requests);
        }
        finally
        {
            if (!stopped)
            {
                await azurite.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The longest a resume on B may take with storage down, from B's own settings (ResumeOptions defaults):
    /// <list type="bullet">
    /// <item>the store read that fails, retries included, ends at <see cref="BlobStreamLogStore.DefaultOperationTimeout"/>;</item>
    /// <item>before it, when the store answered that the stream is not there yet, the resumer looks again twice, half a
    /// <see cref="ResumeOptions.FlushInterval"/> apart: one flush interval in all;</item>
    /// <item><see cref="ResumeAllowance"/>.</item>
    /// </list>
    /// </summary>
    private static readonly TimeSpan ResumeBound = BlobStreamLogStore.DefaultOperationTimeout + new ResumeOptions().FlushInterval + ResumeAllowance;

    /// <summary>The request to B and its answer (routing, the problem body), and the operation deadline's timer firing
    /// late, on a machine whose cores other processes keep busy (measured there: 9.4 s in all, the read ending at its
    /// deadline).</summary>
    private static readonly TimeSpan ResumeAllowance = TimeSpan.FromSeconds(5);

    /// <summary>Listens to chatfunctions.stream.store_failures of one app (its meter factory), not of others in this process.</summary>
    private sealed class StoreFailureCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public StoreFailureCounter(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ChatStreamMetrics.MeterName && instrument.Name == "chatfunctions.stream.store_failures"
                    && ReferenceEquals(instrument.Meter.Scope, scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                Interlocked.Add(ref _count, value);
                foreach (var tag in tags)
                {
                    if (tag.Key == "chatfunctions.store.operation")
                    {
                        lock (Operations)
                        {
                            Operations.Add(tag.Value?.ToString() ?? "");
                        }
                    }
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public List<string> Operations { get; } = [];

        public void Dispose() => _listener.Dispose();
    }
}
