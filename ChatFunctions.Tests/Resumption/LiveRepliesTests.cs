using System.Text;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace ChatFunctions.Tests.Resumption;

/// <summary>The grace window, stop requests from other instances, persistence failures and budgets, with a fake clock.</summary>
public class LiveRepliesTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly Mock<IChatStreamObserver> _observer = new();
    private readonly ResumeOptions _options = new() { GraceSeconds = 30, FlushMilliseconds = 250 };
    private readonly Mock<ITokenBudget> _budget = new();

    public LiveRepliesTests()
    {
        _budget.Setup(b => b.RecordAsync(It.IsAny<CallerKey>(), It.IsAny<long>(), It.IsAny<CancellationToken>())).Returns(ValueTask.CompletedTask);
    }

    private LiveReplies Create(IStreamLogStore store, IChatStreamer? streamer = null) => new(
        streamer ?? new UntilStopped(),
        store,
        _budget.Object,
        Options.Create(_options),
        Options.Create(new ChatServiceOptions()),
        _time,
        _observer.Object,
        NullLogger<LiveReplies>.Instance);

    private static readonly ChatRequest Request = new("hi", []);
    private static readonly Caller Anonymous = Caller.Anonymous("127.0.0.1");

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task AReplyWhoseReaderLeft_GoesOnForTheGraceWindow_ThenIsStopped()
    {
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)));
        var reply = replies.Start("r", Request, Anonymous);
        reply.Log.Attach(0).Dispose(); // the client came and left

        _time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50);
        Assert.Equal(StreamStopReason.None, reply.StopReason);

        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntilAsync(() => reply.StopReason == StreamStopReason.Abandoned);
        _observer.Verify(o => o.StreamAbandoned(), Times.Once);
    }

    [Fact]
    public async Task AReaderComingBackWithinGrace_KeepsTheReplyGoing_AndTheWindowRestartsWhenItLeavesAgain()
    {
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)));
        var reply = replies.Start("r", Request, Anonymous);
        reply.Log.Attach(0).Dispose();
        _time.Advance(TimeSpan.FromSeconds(20));
        var back = reply.Log.Attach(0);
        _time.Advance(TimeSpan.FromSeconds(60));
        await Task.Delay(50);
        Assert.Equal(StreamStopReason.None, reply.StopReason);

        back.Dispose();
        _time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50);
        Assert.Equal(StreamStopReason.None, reply.StopReason);
        _time.Advance(TimeSpan.FromSeconds(2));
        await WaitUntilAsync(() => reply.StopReason == StreamStopReason.Abandoned);
    }

    [Fact]
    public void NoGrace_StopsTheReplyTheMomentItsReaderLeaves()
    {
        _options.GraceSeconds = 0;
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)));
        var reply = replies.Start("r", Request, Anonymous);

        reply.Log.Attach(0).Dispose();

        Assert.Equal(StreamStopReason.Abandoned, reply.StopReason);
        Assert.True(reply.Stopping.IsCancellationRequested);
    }

    [Fact]
    public async Task WithASharedStore_AStopAskedForOnAnotherInstance_IsSeenWithinAFlushInterval()
    {
        var store = SharedStore(cancelRequested: true, readerSeenAt: null);
        using var replies = Create(store.Object);
        var reply = replies.Start("r", Request, Anonymous);
        reply.Log.Attach(0).Dispose();

        _time.Advance(TimeSpan.FromMilliseconds(250));
        await WaitUntilAsync(() => reply.StopReason == StreamStopReason.Cancelled);
    }

    [Fact]
    public async Task WithASharedStore_AReaderFollowingFromAnotherInstance_ExtendsTheGraceWindow()
    {
        DateTimeOffset? seen = null;
        var store = SharedStore(cancelRequested: false, readerSeenAt: () => seen);
        using var replies = Create(store.Object);
        var reply = replies.Start("r", Request, Anonymous);
        reply.Log.Attach(0).Dispose();

        for (var second = 0; second < 90; second++)
        {
            seen = _time.GetUtcNow(); // the follower marks itself every few seconds
            for (var tick = 0; tick < 4; tick++)
            {
                _time.Advance(TimeSpan.FromMilliseconds(250));
                await Task.Yield();
            }
        }

        await Task.Delay(50);
        Assert.Equal(StreamStopReason.None, reply.StopReason);

        _time.Advance(TimeSpan.FromSeconds(31)); // the follower left too
        for (var i = 0; i < 200 && reply.StopReason == StreamStopReason.None; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(5);
        }

        Assert.Equal(StreamStopReason.Abandoned, reply.StopReason);
    }

    [Fact]
    public async Task AStoreThatFails_CostsResumabilityOnly_TheLiveReaderGetsEveryByte()
    {
        var store = new Mock<IStreamLogStore>();
        store.SetupGet(s => s.IsShared).Returns(true);
        store.Setup(s => s.CreateAsync(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new StreamLogUnavailableException("down"));
        var streamer = new Frames(100);
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        using var reader = new LiveLogSource(reply.Log, 0);

        var received = new System.Buffers.ArrayBufferWriter<byte>();
        while (!reader.IsFinished)
        {
            for (var i = 0; i < 4; i++)
            {
                _time.Advance(TimeSpan.FromMilliseconds(250));
            }

            reader.TryCopy(received, int.MaxValue);
            await reader.WaitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }

        reader.TryCopy(received, int.MaxValue);
        Assert.Equal(100, Encoding.UTF8.GetString(received.WrittenSpan).Split("\"chunk\"").Length - 1);
        for (var i = 0; i < 100; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(250)); // the persister tries once per flush interval
            await Task.Delay(10);
        }

        Assert.Equal(3, store.Invocations.Count(i => i.Method.Name == "AppendAsync")); // gives up after three
        _observer.Verify(o => o.StoreFailed("append"), Times.Exactly(3));
    }

    [Fact]
    public async Task WhileAReaderIsAttached_AppendsComeEveryFourIntervals_AndAtOnceWhenItLeaves()
    {
        var appends = new List<DateTimeOffset>();
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .Callback(() => { lock (appends) { appends.Add(_time.GetUtcNow()); } })
            .Returns(Task.CompletedTask);
        using var streamer = new Trickle();
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        var reader = reply.Log.Attach(0);

        for (var i = 0; i < 16; i++) // 4 s with a reader: about one append a second, not four
        {
            streamer.Write(reply);
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(10);
            reader.Advance(reply.Log.Published);
        }

        int attached;
        lock (appends)
        {
            attached = appends.Count;
        }

        Assert.InRange(attached, 3, 5);

        reader.Dispose();
        for (var i = 0; i < 8; i++) // 2 s without: every interval
        {
            streamer.Write(reply);
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(10);
        }

        lock (appends)
        {
            Assert.InRange(appends.Count - attached, 7, 9);
        }

        reply.Stop(StreamStopReason.Cancelled);
    }

    [Fact]
    public async Task WhenTheLastReaderLeaves_WhatItHadLiveIsAppendedAtOnce_NotAtTheNextBeat()
    {
        var appended = new List<(long Offset, int Length)>();
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .Callback((string _, long offset, ReadOnlyMemory<byte> frames, CancellationToken _) => { lock (appended) { appended.Add((offset, frames.Length)); } })
            .Returns(Task.CompletedTask);
        using var streamer = new Trickle();
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        var reader = reply.Log.Attach(0);

        // One attached append (at 1 s), then half a second of tokens the store has not got: the next attached
        // append would be two intervals away.
        for (var i = 0; i < 6; i++)
        {
            streamer.Write(reply);
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(10);
            reader.Advance(reply.Log.Published);
        }

        long StoredEnd()
        {
            lock (appended)
            {
                return appended.Count == 0 ? 0 : appended[^1].Offset + appended[^1].Length;
            }
        }

        Assert.InRange(StoredEnd(), 1, reply.Log.Published - 1);
        streamer.Write(reply);
        var published = reply.Log.Published;

        reader.Dispose(); // the client's connection dropped; the clock does not move

        await WaitUntilAsync(() => StoredEnd() == published);
        reply.Stop(StreamStopReason.Cancelled);
    }

    [Fact]
    public async Task ALastReaderLeavingDuringAnAppend_IsAppendedRightAfterIt_NeverBesideIt()
    {
        var running = 0;
        var overlapped = false;
        var appends = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                overlapped |= Interlocked.Increment(ref running) > 1;
                Interlocked.Increment(ref appends);
                await release.Task;
                Interlocked.Decrement(ref running);
            });
        using var streamer = new Trickle();
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        var reader = reply.Log.Attach(0);
        for (var i = 0; i < 4 && Volatile.Read(ref appends) == 0; i++)
        {
            streamer.Write(reply);
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(10);
            reader.Advance(reply.Log.Published);
        }

        await WaitUntilAsync(() => Volatile.Read(ref appends) == 1); // the attached append, held by the store

        streamer.Write(reply);
        reader.Dispose();
        await Task.Delay(50);
        Assert.Equal(1, Volatile.Read(ref appends)); // the wake waits for the running append

        release.SetResult();
        await WaitUntilAsync(() => Volatile.Read(ref appends) == 2); // and follows it without a beat
        Assert.False(overlapped);
        reply.Stop(StreamStopReason.Cancelled);
    }

    [Fact]
    public async Task AReaderThatStaysToTheEnd_CostsAnAppendASecond_PlusTheLast_TheDetachAfterDoneAddsNone()
    {
        var appends = 0;
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .Callback(() => Interlocked.Increment(ref appends))
            .Returns(Task.CompletedTask);
        using var streamer = new Trickle();
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        using var reader = new LiveLogSource(reply.Log, 0);
        var received = new System.Buffers.ArrayBufferWriter<byte>();

        for (var i = 0; i < 80; i++) // 20 s of a reply read as it comes
        {
            streamer.Write(reply);
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(5);
            reader.TryCopy(received, int.MaxValue);
        }

        reply.Stop(StreamStopReason.Cancelled);
        while (!reader.IsFinished)
        {
            await reader.WaitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            reader.TryCopy(received, int.MaxValue);
        }

        reader.Dispose(); // after the done frame, as a client that read the whole reply leaves
        for (var i = 0; i < 8; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(5);
        }

        // One a second for 20 s (the first may come before the reader attached), and the last batch with done; the
        // detach adds none. Fewer if a busy machine runs the persister late (its cadence counts from its last append);
        // the interval cadence would make about 80.
        Assert.InRange(Volatile.Read(ref appends), 16, 22);
    }

    [Fact]
    public async Task WhatAReplyCost_IsRecordedBeforeItsDoneFrameIsPublished()
    {
        var recorded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _budget.Setup(b => b.RecordAsync(It.IsAny<CallerKey>(), It.IsAny<long>(), It.IsAny<CancellationToken>()))
            .Returns(async () => { recorded.SetResult(); await release.Task; });
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)), new Frames(3));
        var reply = replies.Start("r", Request, Anonymous);

        await recorded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(reply.Log.IsCompleted);
        release.SetResult();
        await WaitUntilAsync(() => reply.Log.IsCompleted);
        _budget.Verify(b => b.RecordAsync(Anonymous.Key, It.IsAny<long>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    private Mock<IStreamLogStore> SharedStore(bool cancelRequested, Func<DateTimeOffset?>? readerSeenAt)
    {
        var store = new Mock<IStreamLogStore>();
        store.SetupGet(s => s.IsShared).Returns(true);
        store.Setup(s => s.CreateAsync(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
        store.Setup(s => s.GetStateAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => new StreamLogState(_time.GetUtcNow(), 0, cancelRequested, readerSeenAt?.Invoke(), _time.GetUtcNow(), null));
        return store;
    }

    /// <summary>A producer that writes meta and waits to be stopped, like a long reply.</summary>
    private sealed class UntilStopped : IChatStreamer
    {
        public async Task<StreamSummary> ProduceAsync(LiveReply stream, ChatRequest request, CancellationToken cancellationToken)
        {
            using var frames = new SseFrameWriter(stream.Log, stream.StreamId);
            frames.WriteMeta("r", stream.StreamId, "test", "test");
            stream.Log.Publish();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }

            var summary = new StreamSummary(StreamFinishReason.Cancelled, null, null, 0, TimeSpan.Zero, 0);
            frames.WriteDone(summary);
            return summary;
        }
    }

    /// <summary>A producer whose chunks the test writes, one per call, until stopped.</summary>
    private sealed class Trickle : IChatStreamer, IDisposable
    {
        private SseFrameWriter? _frames;

        public void Dispose() => _frames?.Dispose();

        public void Write(LiveReply reply)
        {
            _frames?.WriteChunk("t");
            reply.Log.Publish();
        }

        public async Task<StreamSummary> ProduceAsync(LiveReply stream, ChatRequest request, CancellationToken cancellationToken)
        {
            _frames = new SseFrameWriter(stream.Log, stream.StreamId);
            _frames.WriteMeta("r", stream.StreamId, "test", "test");
            stream.Log.Publish();
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            var summary = new StreamSummary(StreamFinishReason.Cancelled, null, null, 0, TimeSpan.Zero, 0);
            _frames.WriteDone(summary);
            return summary;
        }
    }

    /// <summary>A producer that writes a number of chunks and finishes.</summary>
    private sealed class Frames(int chunks) : IChatStreamer
    {
        public async Task<StreamSummary> ProduceAsync(LiveReply stream, ChatRequest request, CancellationToken cancellationToken)
        {
            using var frames = new SseFrameWriter(stream.Log, stream.StreamId);
            frames.WriteMeta("r", stream.StreamId, "test", "test");
            for (var i = 0; i < chunks; i++)
            {
                frames.WriteChunk($"t{i}");
                stream.Log.Publish();
                await Task.Yield();
            }

            var summary = new StreamSummary(StreamFinishReason.Stop, null, null, 0, TimeSpan.Zero, chunks);
            frames.WriteDone(summary);
            return summary;
        }
    }
}
