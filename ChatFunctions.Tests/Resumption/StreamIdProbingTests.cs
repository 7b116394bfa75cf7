using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Http;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ChatFunctions.Tests.TestInfrastructure;
using Moq;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// Whether another caller's stream exists must not show in how a resume or stop of it is answered: its 404 does
/// the same store work as an unknown id's. Compared by the store calls each makes (not by wall-clock time, which a
/// busy machine blurs both ways).
/// </summary>
public sealed class StreamIdProbingTests : IDisposable
{
    private static readonly Caller Alice = Caller.User("tenant", "aaaaaaaa-0000-0000-0000-000000000001");
    private static readonly Caller Mallory = Caller.User("tenant", "cccccccc-0000-0000-0000-000000000003");

    private readonly InMemoryStreamLogStore _inner = new(TimeProvider.System, TimeSpan.FromHours(1));
    private readonly CountingStore _store;
    private readonly LiveReplies _replies;
    private readonly StreamResumer _resumer;

    public StreamIdProbingTests()
    {
        _store = new CountingStore(_inner);
        // The shortest flush interval: an unknown id on a shared store is looked up again twice, half an interval apart.
        var resume = Options.Create(new ResumeOptions { GraceSeconds = 30, FlushMilliseconds = 50 });
        var observer = new Mock<IChatStreamObserver>().Object;
        // The live replies run on a clock that stands still: their persister creates the log at once and then waits
        // for a beat that never comes, so it reads nothing from the store while a probe runs and the counts below are
        // the probe's alone. The resumer keeps the real clock: its second and third look-ups wait on it.
        _replies = LiveRepliesFactory.Create(new UntilStopped(), _store, resume, Options.Create(new ChatServiceOptions()), new SteppedTime(), observer);
        _resumer = new StreamResumer(_replies, _store, resume, Options.Create(new ChatServiceOptions()), TimeProvider.System, observer, NullLogger<StreamResumer>.Instance);
    }

    public void Dispose()
    {
        _replies.Dispose();
        _inner.Dispose();
    }

    [Fact]
    public async Task Resuming_another_callers_live_stream_does_the_same_store_work_as_an_unknown_id()
    {
        var foreign = _replies.Start("r", new ChatRequest("hi", []), Alice);
        await _store.CreatedAsync(foreign.StreamId);

        var forForeign = await ProbeAsync(foreign.StreamId, id => _resumer.OpenAsync(id, 0, Mallory, CancellationToken.None).ContinueWith(t => StatusOf(t.Result.Rejection)));
        var forUnknown = await ProbeAsync(StreamId.New(), id => _resumer.OpenAsync(id, 0, Mallory, CancellationToken.None).ContinueWith(t => StatusOf(t.Result.Rejection)));

        Assert.Equal(404, forUnknown.Status);
        Assert.Equal(["read", "read", "read"], forUnknown.Calls);
        Assert.Equal(forUnknown.Status, forForeign.Status);
        Assert.Equal(forUnknown.Calls, forForeign.Calls);
        Assert.NotNull((await _resumer.OpenAsync(foreign.StreamId, 0, Alice, CancellationToken.None)).Source); // the owner still may
    }

    [Fact]
    public async Task Resuming_another_callers_stored_stream_does_the_same_store_work_as_an_unknown_id()
    {
        var stored = StreamId.New();
        await _inner.CreateAsync(stored, ReplyOwner.KeyOf(Alice), CancellationToken.None);

        var forForeign = await ProbeAsync(stored, id => _resumer.OpenAsync(id, 0, Mallory, CancellationToken.None).ContinueWith(t => StatusOf(t.Result.Rejection)));
        var forUnknown = await ProbeAsync(StreamId.New(), id => _resumer.OpenAsync(id, 0, Mallory, CancellationToken.None).ContinueWith(t => StatusOf(t.Result.Rejection)));

        Assert.Equal(404, forUnknown.Status);
        Assert.Equal(["read", "read", "read"], forUnknown.Calls);
        Assert.Equal(forUnknown.Status, forForeign.Status);
        Assert.Equal(forUnknown.Calls, forForeign.Calls);
    }

    [Fact]
    public async Task Stopping_another_callers_live_stream_does_the_same_store_work_as_an_unknown_id()
    {
        var foreign = _replies.Start("r", new ChatRequest("hi", []), Alice);
        await _store.CreatedAsync(foreign.StreamId);

        var forForeign = await ProbeAsync(foreign.StreamId, id => _resumer.StopAsync(id, Mallory, CancellationToken.None).ContinueWith(t => StatusOf(t.Result)));
        var forUnknown = await ProbeAsync(StreamId.New(), id => _resumer.StopAsync(id, Mallory, CancellationToken.None).ContinueWith(t => StatusOf(t.Result)));

        Assert.Equal(404, forUnknown.Status);
        Assert.Equal(["state"], forUnknown.Calls);
        Assert.Equal(forUnknown.Status, forForeign.Status);
        Assert.Equal(forUnknown.Calls, forForeign.Calls);
        Assert.Equal(StreamStopReason.None, foreign.StopReason);
    }

    /// <summary>The status HTTP answers the refusal with, as a caller sees it.</summary>
    private static int? StatusOf(Refusal? refusal) => refusal is null ? null : RequestRejection.StatusOf(refusal.Kind);

    private async Task<(int? Status, string[] Calls)> ProbeAsync(string streamId, Func<string, Task<int?>> probe)
    {
        var before = _store.CallsFor(streamId).Length;
        var status = await probe(streamId);
        return (status, _store.CallsFor(streamId)[before..]);
    }

    /// <summary>The in-memory store, reported shared (as blobs are), recording each lookup by stream.</summary>
    private sealed class CountingStore(IStreamLogStore inner) : IStreamLogStore
    {
        private readonly List<(string Id, string Call)> _calls = [];
        private readonly Dictionary<string, TaskCompletionSource> _created = [];

        public bool IsShared => true;

        public string[] CallsFor(string streamId)
        {
            lock (_calls)
            {
                return [.. _calls.Where(c => c.Id == streamId).Select(c => c.Call)];
            }
        }

        public Task CreatedAsync(string streamId) => Created(streamId).Task.WaitAsync(TimeSpan.FromSeconds(30));

        private TaskCompletionSource Created(string streamId)
        {
            lock (_created)
            {
                return _created.TryGetValue(streamId, out var tcs) ? tcs : _created[streamId] = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        private void Record(string streamId, string call)
        {
            lock (_calls)
            {
                _calls.Add((streamId, call));
            }
        }

        public async Task<string> CreateAsync(string streamId, string? ownerKey, CancellationToken cancellationToken)
        {
            var version = await inner.CreateAsync(streamId, ownerKey, cancellationToken);
            Created(streamId).TrySetResult();
            return version;
        }

        public Task<StreamLogAppend> AppendAsync(string streamId, long offset, ReadOnlyMemory<byte> frames, string? expectedVersion, CancellationToken cancellationToken) =>
            inner.AppendAsync(streamId, offset, frames, expectedVersion, cancellationToken);

        public Task<StreamLogRead?> ReadAsync(string streamId, long fromOffset, CancellationToken cancellationToken)
        {
            Record(streamId, "read");
            return inner.ReadAsync(streamId, fromOffset, cancellationToken);
        }

        public Task<StreamLogTail?> ReadTailAsync(string streamId, long fromOffset, string? knownVersion, CancellationToken cancellationToken)
        {
            Record(streamId, "read");
            return inner.ReadTailAsync(streamId, fromOffset, knownVersion, cancellationToken);
        }

        public Task<StreamLogState?> GetStateAsync(string streamId, CancellationToken cancellationToken)
        {
            Record(streamId, "state");
            return inner.GetStateAsync(streamId, cancellationToken);
        }

        public Task<bool> RequestCancelAsync(string streamId, CancellationToken cancellationToken)
        {
            Record(streamId, "cancel");
            return inner.RequestCancelAsync(streamId, cancellationToken);
        }

        public Task MarkReaderAsync(string streamId, CancellationToken cancellationToken) => inner.MarkReaderAsync(streamId, cancellationToken);
    }

    /// <summary>A reply that writes its meta frame and runs until stopped.</summary>
    private sealed class UntilStopped : IChatStreamer
    {
        public async Task<StreamSummary> ProduceAsync(IProducedReply stream, ChatRequest request, Func<StreamSummary, Task> beforeDone, CancellationToken cancellationToken)
        {
            using var frames = new SseFrameWriter(stream.Log, stream.StreamId);
            frames.WriteMeta("r", stream.StreamId, "test", "test");
            stream.Log.Publish();
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var summary = new StreamSummary(StreamFinishReason.Cancelled, null, null, 0, TimeSpan.Zero, 0);
            await beforeDone(summary);
            frames.WriteDone(summary);
            stream.Log.Complete();
            return summary;
        }
    }
}
