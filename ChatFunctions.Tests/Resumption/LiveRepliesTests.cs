using System.Text;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ChatFunctions.Tests.TestInfrastructure;
using Moq;

namespace ChatFunctions.Tests.Resumption;

/// <summary>The grace window, stop requests from other instances, persistence failures and budgets, with a fake clock.</summary>
public class LiveRepliesTests
{
    private readonly SteppedTime _time = new();
    private readonly Mock<IChatStreamObserver> _observer = new();
    private readonly ResumeOptions _options = new() { GraceSeconds = 30, FlushMilliseconds = 250 };
    private readonly Mock<ITokenBudget> _budget = new();

    public LiveRepliesTests()
    {
        _budget.Setup(b => b.SettleAsync(It.IsAny<BudgetReservation>(), It.IsAny<long>(), It.IsAny<CancellationToken>())).Returns(ValueTask.CompletedTask);
    }

    private ReplySpend Spend(long reserved) => new(_budget.Object, new OpenReplies(Options.Create(new TokenBudgetOptions())),
        new BudgetReservation(BudgetOutcome.Reserved, Anonymous.Key, "2026-12-07", reserved, reserved, 10_000, DateTimeOffset.MaxValue));

    /// <summary>What the reply service hands a reply to settle its spend (<see cref="SpendGate.SettleAsync"/>).</summary>
    private static Func<StreamSummary?, ValueTask> Settle(ReplySpend spend) =>
        summary => summary is null ? spend.SettleAsync(null) : spend.SettleAsync(Request, new ChatServiceOptions().SystemPrompt, summary);

    private LiveReplies Create(IStreamLogStore store, IChatStreamer? streamer = null) => LiveRepliesFactory.Create(
        streamer ?? new UntilStopped(),
        store,
        Options.Create(_options),
        Options.Create(new ChatServiceOptions()),
        _time,
        _observer.Object);

    private static readonly ChatRequest Request = new("hi", []);
    private static readonly Caller Anonymous = Caller.Anonymous("127.0.0.1");

    /// <summary>Polls a condition that work on the thread pool makes true; the bound only ends a test that would hang.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < SteppedTime.StepBound)
        {
            await Task.Delay(Poll.StepInterval);
        }

        Assert.True(condition());
    }

    /// <summary>Until the producer has written its meta frame and, with a shared store, the persister waits for its
    /// first beat: from here on each step of the clock is a beat both have seen. A step taken before the persister
    /// waits fires nothing and returns at once: the clock would run ahead of a persister that has not looked yet.</summary>
    private async Task StartedAsync(LiveReply reply, bool sharedStore)
    {
        await WaitUntilAsync(() => reply.Log.Published > 0);
        if (sharedStore)
        {
            await WaitUntilAsync(() => PersisterWaits() >= 1);
        }
    }

    /// <summary>The waits the persister armed: for its stream's next beat (FlushCadence), at most one interval away.</summary>
    private int PersisterWaits() =>
        _time.Created(t => t.IsArmedBy<ReplyPersister>() && t.DueTime > TimeSpan.Zero && t.DueTime <= _options.FlushInterval);

    [Fact]
    public async Task AReplyWhoseReaderLeft_GoesOnForTheGraceWindow_ThenIsStopped()
    {
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)));
        var reply = replies.Start("r", Request, Anonymous);
        reply.Log.Attach(0).Dispose(); // the client came and left

        await _time.AdvanceAsync(TimeSpan.FromSeconds(29), until: () => reply.StopReason != StreamStopReason.None);
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
        var mark = _time.Now();
        _time.Advance(TimeSpan.FromSeconds(60)); // the first window's timer fires with the reader back

        back.Dispose();
        // Whichever way the woken watcher and this detach interleave, one watcher arms the new window's timer.
        await _time.WaitForTimersAsync(mark, 1, t => t.IsArmedBy<GraceWatcher>(), until: () => reply.StopReason != StreamStopReason.None);
        Assert.Equal(StreamStopReason.None, reply.StopReason);
        await _time.AdvanceAsync(TimeSpan.FromSeconds(29), until: () => reply.StopReason != StreamStopReason.None);
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

    [Theory]
    [InlineData(true, true)]   // a reader keeps up here, the model streams: the next append fails on the version
    [InlineData(true, false)]  // a reader keeps up here, the model is silent: the state read in the append's place
    [InlineData(false, true)]  // nobody reads here
    [InlineData(false, false)]
    public async Task WithASharedStore_AStopAskedForOnAnotherInstance_ReachesTheModelCallWithinTheContactInterval(bool readerAttached, bool modelStreams)
    {
        using var memory = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        var store = new ReportedShared(memory);
        using var streamer = new Trickle();
        using var replies = Create(store, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        var reader = reply.Log.Attach(0);
        await StartedAsync(reply, sharedStore: true);
        if (!readerAttached)
        {
            reader.Dispose();
        }

        // Some beats first, so the persister is mid-cadence, not at its start.
        for (var i = 0; i < 3; i++)
        {
            await BeatAsync(streamer, reply, reader, modelStreams);
        }

        Assert.True(await store.RequestCancelAsync(reply.StreamId, CancellationToken.None));
        for (var beat = 0; beat < ReplyPersister.ContactBeats && reply.StopReason == StreamStopReason.None; beat++)
        {
            await BeatAsync(streamer, reply, reader, modelStreams);
        }

        await WaitUntilAsync(() => reply.StopReason == StreamStopReason.Cancelled);

        // The ending reaches the store at once, not at the next beat: whoever stopped it is waiting for it.
        await WaitUntilAsync(() => reply.Log.IsCompleted && memory.TotalBytes == reply.Log.Published);
        var stored = Encoding.UTF8.GetString((await memory.ReadAsync(reply.StreamId, 0, CancellationToken.None))!.Bytes.Span);
        var last = stored.TrimEnd('\n').Split("\n\n")[^1];
        Assert.Contains("data: {\"done\":true,\"finishReason\":\"cancelled\"", last, StringComparison.Ordinal);
        reader.Dispose();
    }

    [Fact]
    public async Task WhileAReaderKeepsUpHere_AReaderThatAnnouncesItselfElsewhere_GetsAnAppendEveryInterval_UntilItsMarkIsAGraceWindowOld()
    {
        using var memory = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        var store = new ReportedShared(memory);
        using var streamer = new Trickle();
        using var replies = Create(store, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        using var reader = reply.Log.Attach(0);
        await StartedAsync(reply, sharedStore: true);

        async Task<int> StoredChunksAfterBeatsAsync(int beats)
        {
            var storedBefore = memory.TotalBytes;
            var lagging = 0;
            for (var i = 0; i < beats; i++)
            {
                await BeatAsync(streamer, reply, reader, modelStreams: true);
                // Each beat's chunk is stored by the end of that beat when appends come every interval.
                lagging += memory.TotalBytes < reply.Log.Published ? 1 : 0;
            }

            Assert.True(memory.TotalBytes > storedBefore);
            return lagging;
        }

        // The attached cadence: an append every ContactBeats intervals, so some beats end with chunks not yet stored.
        Assert.True(await StoredChunksAfterBeatsAsync(8) >= 8 / ReplyPersister.ContactBeats - 1);

        // A reader on another instance announces itself; the next append meets its mark, and from then on every beat.
        await store.MarkReaderAsync(reply.StreamId, CancellationToken.None);
        await StoredChunksAfterBeatsAsync(ReplyPersister.ContactBeats + 1);
        for (var i = 0; i < 8; i++)
        {
            // Every beat's chunk is stored in that beat: nothing waits for a later one (the clock stands still meanwhile).
            await BeatAsync(streamer, reply, reader, modelStreams: true);
            await WaitUntilAsync(() => memory.TotalBytes == reply.Log.Published);
        }

        // A mark older than the grace window no longer counts: back to the attached cadence.
        await _time.AdvanceAsync(_options.Grace);
        await StoredChunksAfterBeatsAsync(ReplyPersister.ContactBeats + 1);
        Assert.True(await StoredChunksAfterBeatsAsync(8) >= 8 / ReplyPersister.ContactBeats - 1);
        reply.Stop(StreamStopReason.Cancelled);
    }

    [Fact]
    public async Task AStopSentHere_ForAStreamProducedElsewhere_Is204AtOnceWhenItEndedOrItsProducerIsGone_And504WhenNobodyConfirmsItInTime()
    {
        using var memory = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        var store = new ReportedShared(memory);
        using var replies = Create(store);
        var chat = new ChatServiceOptions();
        var resumer = new StreamResumer(replies, store, Options.Create(_options), Options.Create(chat), _time, _observer.Object, NullLogger<StreamResumer>.Instance);

        async Task<string> LogAsync(bool done)
        {
            var id = StreamId.New();
            await store.CreateAsync(id, null, CancellationToken.None);
            var frames = $"id: {id}:1\ndata: {{\"meta\":{{}}}}\n\n" + (done ? $"id: {id}:2\ndata: {{\"done\":true,\"finishReason\":\"stop\"}}\n\n" : "");
            await store.AppendAsync(id, 0, Encoding.UTF8.GetBytes(frames), null, CancellationToken.None);
            return id;
        }

        // Ended: nothing runs, nothing to ask.
        var ended = await LogAsync(done: true);
        Assert.Null(await resumer.StopAsync(ended, Anonymous, CancellationToken.None));
        Assert.False((await store.GetStateAsync(ended, CancellationToken.None))!.CancelRequested);

        // Its producer is gone: the log has not grown for longer than a live producer ever pauses.
        var gone = await LogAsync(done: false);
        _time.Advance(TimeSpan.FromSeconds(chat.UpstreamIdleTimeoutSeconds + 15) + TimeSpan.FromMilliseconds(1));
        Assert.Null(await resumer.StopAsync(gone, Anonymous, CancellationToken.None));

        // Live-looking, but no producer stores an ending: 504 once the confirmation wait has passed, not before.
        var orphan = await LogAsync(done: false);
        var asked = _time.GetUtcNow();
        var stopping = resumer.StopAsync(orphan, Anonymous, CancellationToken.None);
        while (!stopping.IsCompleted)
        {
            Assert.True(_time.GetUtcNow() - asked <= resumer.StopConfirmWait + _options.FlushInterval, "the stop waited past its confirmation wait");
            await _time.AdvanceAsync(_options.FlushInterval / 2, until: () => stopping.IsCompleted);
        }

        var rejection = await stopping;
        Assert.Equal(RefusalKind.NotConfirmed, rejection?.Kind);
        Assert.Equal("streamId", rejection!.Field);
        Assert.True(_time.GetUtcNow() - asked >= resumer.StopConfirmWait);
        Assert.True((await store.GetStateAsync(orphan, CancellationToken.None))!.CancelRequested);
    }

    /// <summary>One flush interval: a chunk from the model (or none), the reader keeping up, the clock moved on.</summary>
    private async Task BeatAsync(Trickle streamer, LiveReply reply, StreamLog.Reader reader, bool modelStreams)
    {
        if (modelStreams)
        {
            streamer.Write(reply);
        }

        reader.Advance(reply.Log.Published);
        await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250), until: () => reply.Log.IsCompleted);
    }

    [Fact]
    public async Task WithASharedStore_AReaderFollowingFromAnotherInstance_ExtendsTheGraceWindow()
    {
        DateTimeOffset? seen = null;
        var store = SharedStore(cancelRequested: false, readerSeenAt: () => seen);
        using var replies = Create(store.Object);
        var reply = replies.Start("r", Request, Anonymous);
        await StartedAsync(reply, sharedStore: true); // before the detach: the watcher's beat has the same length
        reply.Log.Attach(0).Dispose();

        // The log's creation starts the persister's count of beats: before the clock moves.
        await WaitUntilAsync(() => store.Invocations.Any(i => i.Method.Name == nameof(IStreamLogStore.CreateAsync)));
        int StateReads() => store.Invocations.Count(i => i.Method.Name == nameof(IStreamLogStore.GetStateAsync));
        for (var round = 0; round < 90; round++) // 112 s, well past the 30 s window
        {
            seen = _time.GetUtcNow(); // the follower marks itself every few seconds
            var reads = StateReads();
            for (var tick = 0; tick < ReplyPersister.ContactBeats + 1; tick++) // a contact interval, whatever its phase
            {
                await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250), until: () => reply.StopReason != StreamStopReason.None);
            }

            // The persister saw this mark (it reads the state when the model sent nothing new) before the clock goes on.
            await WaitUntilAsync(() => StateReads() > reads);
        }

        Assert.Equal(StreamStopReason.None, reply.StopReason);

        await _time.AdvanceAsync(TimeSpan.FromSeconds(31), until: () => reply.StopReason != StreamStopReason.None); // the follower left too
        for (var i = 0; i < 200 && reply.StopReason == StreamStopReason.None; i++)
        {
            await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250), until: () => reply.StopReason != StreamStopReason.None);
        }

        Assert.Equal(StreamStopReason.Abandoned, reply.StopReason);
    }

    [Fact]
    public async Task AStoreThatFails_CostsResumabilityOnly_TheLiveReaderGetsEveryByte()
    {
        var store = new Mock<IStreamLogStore>();
        store.SetupGet(s => s.IsShared).Returns(true);
        store.Setup(s => s.CreateAsync(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).ReturnsAsync("v");
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new StreamLogUnavailableException("down"));
        var streamer = new Frames(100);
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        using var reader = new LiveLogSource(reply.Log, 0);
        await StartedAsync(reply, sharedStore: true);

        // Once it has given up, the persister arms no timer; the reply arms the grace window it stays in memory for.
        bool GaveUp() => _time.Created(t => t.IsArmedBy<ReplyProducer>() && t.DueTime == _options.Grace) == 1;
        var received = new System.Buffers.ArrayBufferWriter<byte>();
        while (!reader.IsFinished)
        {
            for (var i = 0; i < 4; i++)
            {
                await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250), until: GaveUp);
            }

            reader.TryCopy(received, int.MaxValue);
            await reader.WaitAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        reader.TryCopy(received, int.MaxValue);
        Assert.Equal(100, Encoding.UTF8.GetString(received.WrittenSpan).Split("\"chunk\"").Length - 1);
        for (var i = 0; i < 100; i++)
        {
            // The persister tries once per flush interval and waits for the next, until it gives up.
            await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250), until: GaveUp);
        }

        Assert.True(GaveUp());
        Assert.Equal(3, store.Invocations.Count(i => i.Method.Name == "AppendAsync")); // gives up after three
        _observer.Verify(o => o.StoreFailed("append"), Times.Exactly(3));
    }

    [Fact]
    public async Task WhileAReaderIsAttached_AppendsComeEveryOtherInterval_AndEveryIntervalOnceItLeaves()
    {
        var appends = new List<DateTimeOffset>();
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .Callback(() => { lock (appends) { appends.Add(_time.GetUtcNow()); } })
            .ReturnsAsync(Appended);
        using var streamer = new Trickle();
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        var reader = reply.Log.Attach(0);
        await StartedAsync(reply, sharedStore: true);

        for (var i = 0; i < 16; i++) // 4 s with a reader: an append every ContactBeats intervals, not every one
        {
            streamer.Write(reply);
            await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250));
            reader.Advance(reply.Log.Published);
        }

        int attached;
        lock (appends)
        {
            attached = appends.Count;
        }

        Assert.InRange(attached, (16 / ReplyPersister.ContactBeats) - 1, (16 / ReplyPersister.ContactBeats) + 1);

        reader.Dispose();
        for (var i = 0; i < 8; i++) // 2 s without: every interval
        {
            streamer.Write(reply);
            await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250));
        }

        lock (appends)
        {
            Assert.InRange(appends.Count - attached, 7, 9);
        }

        reply.Stop(StreamStopReason.Cancelled);
    }

    /// <summary>The request budget of an undisturbed reply (its reader on the producing instance to the end, nobody
    /// elsewhere): one create, one contact every <see cref="ReplyPersister.ContactInterval"/> (1 s at the default 250 ms),
    /// the last batch. For a 20 s reply (1,000 tokens at 50 tokens/s) 1 + 20 + 1 = 22, what the reply cost before the
    /// producer had to hear of stops sent elsewhere (measured 21.0–21.5 on Azurite).</summary>
    private static int UndisturbedReplyBudget(TimeSpan duration, TimeSpan flushInterval) =>
        1 + (int)(duration / (flushInterval * ReplyPersister.ContactBeats)) + 1;

    [Fact]
    public async Task AReaderThatStaysToTheEnd_CostsNoMoreStorageRequestsThanTheUndisturbedBudget_TheDetachAfterDoneAddsNone()
    {
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        // The persister first looks once the log is created. A look while nobody reads here stores the meta frame at
        // once (a request the budget does not hold); the reader attaches first, as a request's does unless its thread
        // is held up between starting the reply and attaching.
        var created = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Setup(s => s.CreateAsync(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).Returns(created.Task);
        using var streamer = new Trickle();
        using var replies = Create(store.Object, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        using var reader = new LiveLogSource(reply.Log, 0);
        created.SetResult("v");
        var received = new System.Buffers.ArrayBufferWriter<byte>();
        await StartedAsync(reply, sharedStore: true);

        const int Beats = 80; // 20 s of a reply read as it comes
        for (var i = 0; i < Beats; i++)
        {
            streamer.Write(reply);
            await _time.AdvanceAsync(_options.FlushInterval);
            reader.TryCopy(received, int.MaxValue);
        }

        reply.Stop(StreamStopReason.Cancelled);
        while (!reader.IsFinished)
        {
            await reader.WaitAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            reader.TryCopy(received, int.MaxValue);
        }

        reader.Dispose(); // after the done frame, as a client that read the whole reply leaves
        for (var i = 0; i < 8; i++)
        {
            // The persister stores the last batch on its beat and ends, and the reply leaves memory: no timer after that.
            await _time.AdvanceAsync(_options.FlushInterval, until: () => replies.Find(reply.StreamId) is null);
        }

        // Every request the store was asked for: create, appends, state reads.
        var requests = store.Invocations.Count(i => i.Method.Name != "get_" + nameof(IStreamLogStore.IsShared));
        var appends = store.Invocations.Count(i => i.Method.Name == nameof(IStreamLogStore.AppendAsync));
        Assert.True(requests <= UndisturbedReplyBudget(Beats * _options.FlushInterval, _options.FlushInterval),
            $"{requests} storage requests ({appends} appends) for a 20 s reply, over its budget of {UndisturbedReplyBudget(Beats * _options.FlushInterval, _options.FlushInterval)}");
        Assert.Equal(22, UndisturbedReplyBudget(TimeSpan.FromSeconds(20), new ResumeOptions().FlushInterval));

        // Not by storing nothing: an append every contact interval (fewer if a busy machine runs the persister late).
        Assert.True(appends >= (Beats / ReplyPersister.ContactBeats) - 4, $"{appends} appends");
    }

    [Fact]
    public async Task WhatAReplyCost_IsSettledBeforeItsDoneFrameIsPublished()
    {
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _budget.Setup(b => b.SettleAsync(It.IsAny<BudgetReservation>(), It.IsAny<long>(), It.IsAny<CancellationToken>()))
            .Returns(async () => { settled.SetResult(); await release.Task; });
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)), new Frames(3));
        var spend = Spend(500);
        var reply = replies.Start("r", Request, Anonymous, Settle(spend));

        await settled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(reply.Log.IsCompleted);
        release.SetResult();
        await WaitUntilAsync(() => reply.Log.IsCompleted);
        _budget.Verify(b => b.SettleAsync(spend.Reservation, It.IsInRange(1L, 499L, Moq.Range.Inclusive), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task AReplyThatRunsOutItsGraceWindow_SettlesItsReservation()
    {
        using var replies = Create(new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1)));
        var spend = Spend(500);
        var reply = replies.Start("r", Request, Anonymous, Settle(spend));
        reply.Log.Attach(0).Dispose(); // the client came and left

        await WaitUntilAsync(() => { _time.Advance(TimeSpan.FromSeconds(1)); return reply.Log.IsCompleted; });

        Assert.Equal(StreamStopReason.Abandoned, reply.StopReason);
        _budget.Verify(b => b.SettleAsync(spend.Reservation, It.IsAny<long>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task WithAnInMemoryStore_AnOpenReplyHasNoSecondCopy_AndTheFinishedOneIsStoredByteIdentical()
    {
        using var store = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        using var streamer = new Trickle();
        using var replies = Create(store, streamer);
        var reply = replies.Start("r", Request, Anonymous);
        await WaitUntilAsync(() => store.Count == 1);
        await StartedAsync(reply, sharedStore: false);
        for (var i = 0; i < 12; i++) // 3 s of chunks, no reader: a shared store would have had 12 appends by now
        {
            streamer.Write(reply);
            await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250));
        }

        Assert.True(reply.Log.Published > 0);
        Assert.Equal(0, store.TotalBytes);

        reply.Stop(StreamStopReason.Cancelled);
        await WaitUntilAsync(() => reply.Log.IsCompleted && store.TotalBytes == reply.Log.Published);
        var stored = await store.ReadAsync(reply.StreamId, 0, CancellationToken.None);
        Assert.Equal(reply.Log.Copy(0, reply.Log.Published).ToArray(), stored!.Bytes.ToArray());
    }

    [Fact]
    public async Task WithAStoreOnlyThisInstanceReads_TheReplyIsAppendedOnce_WholeAndAfterItsLastFrame()
    {
        var appends = new List<(long Offset, byte[] Frames, bool Completed)>();
        var store = new Mock<IStreamLogStore>();
        store.SetupGet(s => s.IsShared).Returns(false);
        store.Setup(s => s.CreateAsync(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).ReturnsAsync("v");
        LiveReplies? live = null;
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .Callback((string streamId, long offset, ReadOnlyMemory<byte> frames, string? _, CancellationToken _) =>
            {
                lock (appends)
                {
                    appends.Add((offset, frames.ToArray(), live!.Find(streamId)!.Log.IsCompleted));
                }
            })
            .ReturnsAsync(Appended);
        using var replies = live = Create(store.Object, new Frames(40));
        var reply = replies.Start("r", Request, Anonymous);

        // The reply leaves memory after its one append: nothing of it runs any more.
        await WaitUntilAsync(() => replies.Find(reply.StreamId) is null);
        var append = Assert.Single(appends);
        Assert.Equal(0, append.Offset);
        Assert.True(append.Completed);
        Assert.Equal(reply.Log.Copy(0, reply.Log.Published).ToArray(), append.Frames);
    }

    [Fact]
    public async Task AFinishedReply_LeavesForTheInMemoryStoreAtOnce_AndResumesFromItByteIdentical_UntilTheRetentionEnds()
    {
        using var store = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        using var replies = Create(store, new Frames(5));
        var resumer = new StreamResumer(replies, store, Options.Create(_options), Options.Create(new ChatServiceOptions()), _time,
            _observer.Object, NullLogger<StreamResumer>.Instance);
        var reply = replies.Start("r", Request, Anonymous);
        await WaitUntilAsync(() => reply.Log.IsCompleted && store.TotalBytes == reply.Log.Published);
        var expected = reply.Log.Copy(0, reply.Log.Published).ToArray();
        await WaitUntilAsync(() => replies.Find(reply.StreamId) is null); // at once: the store holds it in memory already

        var resumed = await resumer.OpenAsync(reply.StreamId, 0, Anonymous, CancellationToken.None);
        using var source = Assert.IsAssignableFrom<IStreamSource>(resumed.Source);
        var received = new System.Buffers.ArrayBufferWriter<byte>();
        while (source.TryCopy(received, 1024))
        {
        }

        Assert.True(source.IsFinished);
        Assert.Equal(expected, received.WrittenSpan.ToArray());
        _observer.Verify(o => o.StreamResumed("store"), Times.Once);

        _time.Advance(TimeSpan.FromHours(1) + InMemoryStreamLogStore.SweepInterval);
        Assert.Equal(0, store.TotalBytes);
        var expired = await resumer.OpenAsync(reply.StreamId, 0, Anonymous, CancellationToken.None);
        Assert.Null(expired.Source);
        Assert.Equal(RefusalKind.NotFound, expired.Rejection!.Kind);
    }

    [Fact]
    public async Task WithASharedStore_AFinishedReply_LeavesMemoryOnceItsLastFrameIsStored_AndResumesFromTheStoreByteIdentical()
    {
        using var inner = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        var store = new ReportedShared(inner);
        using var replies = Create(store, new Frames(5));
        var resumer = new StreamResumer(replies, store, Options.Create(_options), Options.Create(new ChatServiceOptions()), _time,
            _observer.Object, NullLogger<StreamResumer>.Instance);
        var reply = replies.Start("r", Request, Anonymous);
        using (var reader = new LiveLogSource(reply.Log, 0))
        {
            await WaitUntilAsync(() => reply.Log.IsCompleted);
            var expected = reply.Log.Copy(0, reply.Log.Published).ToArray();
            // The persister's beats, each taken once it waits for it (or it stored the whole reply at its first look):
            // the clock does not run on while it is busy.
            await WaitUntilAsync(() => PersisterWaits() >= 1 || replies.Find(reply.StreamId) is null);
            await AdvanceUntilAsync(() => replies.Find(reply.StreamId) is null);

            // Not kept for the grace window: the store has every byte, and the reader still attached reads on.
            Assert.Equal(expected.Length, inner.TotalBytes);
            Assert.True(_time.GetUtcNow() - _time.Start < TimeSpan.FromSeconds(5), "left before any grace window");
            var live = new System.Buffers.ArrayBufferWriter<byte>();
            while (reader.TryCopy(live, 7))
            {
            }

            Assert.True(reader.IsFinished);
            Assert.Equal(expected, live.WrittenSpan.ToArray());

            var resumed = await resumer.OpenAsync(reply.StreamId, 2, Anonymous, CancellationToken.None);
            using var source = Assert.IsAssignableFrom<IStreamSource>(resumed.Source);
            var received = new System.Buffers.ArrayBufferWriter<byte>();
            while (source.TryCopy(received, 1024))
            {
            }

            Assert.True(source.IsFinished);
            var afterSecondFrame = expected.AsSpan().IndexOf("\n\n"u8) + 2;
            afterSecondFrame += expected.AsSpan(afterSecondFrame).IndexOf("\n\n"u8) + 2;
            Assert.Equal(expected[afterSecondFrame..], received.WrittenSpan.ToArray());
            _observer.Verify(o => o.StreamResumed("store"), Times.Once);
        }
    }

    [Fact]
    public async Task WithASharedStoreThatGaveUp_AFinishedReply_StaysInMemoryForTheGraceWindow_AndResumesFromThere()
    {
        var store = SharedStore(cancelRequested: false, readerSeenAt: null);
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new StreamLogUnavailableException("down"));
        using var replies = Create(store.Object, new Frames(5));
        var reply = replies.Start("r", Request, Anonymous);
        await StartedAsync(reply, sharedStore: true);
        int Appends() => store.Invocations.Count(i => i.Method.Name == "AppendAsync");
        await AdvanceUntilAsync(() => Appends() >= 3); // the persister gives up after the third

        // Having given up, the persister arms no timer; the reply arms the grace window it stays in memory for.
        await WaitUntilAsync(() => _time.CreatedWithDue(_options.Grace) == 1);
        await _time.AdvanceAsync(TimeSpan.FromSeconds(29), until: () => replies.Find(reply.StreamId) is null);
        Assert.Same(reply, replies.Find(reply.StreamId));

        _time.Advance(TimeSpan.FromSeconds(2));
        await WaitUntilAsync(() => replies.Find(reply.StreamId) is null);
    }

    [Fact]
    public async Task WithASharedStore_ALongReplyHoldsAFewKiBHere_AndResumesFromAnyFrame_EarlyOnesFromTheStore_ThenLive()
    {
        using var inner = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1));
        var store = new ReportedShared(inner);
        using var trickle = new Trickle();
        using var replies = Create(store, trickle);
        var resumer = new StreamResumer(replies, store, Options.Create(_options), Options.Create(new ChatServiceOptions()), _time,
            _observer.Object, NullLogger<StreamResumer>.Instance);
        var reply = replies.Start("r", Request, Anonymous);
        using var client = new LiveLogSource(reply.Log, 0);
        var received = new System.Buffers.ArrayBufferWriter<byte>();
        await WaitUntilAsync(() => reply.Log.Published > 0); // the meta frame

        long mostHeld = 0;
        for (var frame = 1; frame <= 2000; frame++)
        {
            trickle.Write(reply);
            client.TryCopy(received, int.MaxValue);
            mostHeld = Math.Max(mostHeld, reply.Log.HeldBytes);
            if (frame % 100 == 0)
            {
                // A second passes: the persister appends (a reader is attached) and the log releases what it stored.
                var published = reply.Log.Published;
                await AdvanceUntilAsync(() => inner.TotalBytes == published);
            }
        }

        for (var frame = 0; frame < 50; frame++)
        {
            trickle.Write(reply); // not stored yet, so held
            client.TryCopy(received, int.MaxValue);
        }

        Assert.True(reply.Log.Written > 100 * 1024, $"{reply.Log.Written} bytes written");
        Assert.True(mostHeld <= 16 * 1024, $"the log held up to {mostHeld} bytes while {reply.Log.Written} were written");
        var released = reply.Log.Start;
        Assert.True(released > 90 * 1024, $"released up to {released}");
        var releasedFrames = FramesIn(received.WrittenSpan[..(int)released]);

        // Resumed from the meta frame, from frames the log released (from the store, then live), from the first frame it
        // holds, from one further in, from the last one.
        var sequences = new[] { 1, 700, releasedFrames - 1, releasedFrames, releasedFrames + 20, 2051 };
        var resumed = new List<(int Sequence, IStreamSource Source, System.Buffers.ArrayBufferWriter<byte> Bytes)>();
        foreach (var sequence in sequences)
        {
            var result = await resumer.OpenAsync(reply.StreamId, sequence, Anonymous, CancellationToken.None);
            var source = Assert.IsAssignableFrom<IStreamSource>(result.Source);
            var bytes = new System.Buffers.ArrayBufferWriter<byte>();
            while (source.TryCopy(bytes, 333))
            {
            }

            Assert.False(source.IsFinished);
            resumed.Add((sequence, source, bytes));
        }

        _observer.Verify(o => o.StreamResumed("memory"), Times.Exactly(sequences.Length));

        // The reply goes on: every resumed reader follows it live to its done frame.
        for (var frame = 0; frame < 10; frame++)
        {
            trickle.Write(reply);
        }

        reply.Stop(StreamStopReason.Cancelled);
        await WaitUntilAsync(() => reply.Log.IsCompleted);
        CopyToTheEnd(client, received, int.MaxValue);

        var whole = received.WrittenSpan.ToArray();
        foreach (var (sequence, source, bytes) in resumed)
        {
            CopyToTheEnd(source, bytes, 333);

            Assert.Equal(whole[OffsetAfter(whole, sequence)..], bytes.WrittenSpan.ToArray());
            source.Dispose();
        }

        var beyond = await resumer.OpenAsync(reply.StreamId, 2063, Anonymous, CancellationToken.None); // meta, 2,060 chunks, done
        Assert.Null(beyond.Source);
        Assert.Equal(RefusalKind.Invalid, beyond.Rejection?.Kind);
    }

    /// <summary>Steps the clock a flush interval at a time until <paramref name="condition"/> holds, at most 400 steps.
    /// A step that woke no timer returns at once, so each step also yields: the work the condition waits for may be
    /// queued behind this loop (a continuation that has not armed its timer yet), and a loop that never yields would
    /// spin on a core instead of letting it run.</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await _time.AdvanceAsync(TimeSpan.FromMilliseconds(250), until: condition);
            await Task.Yield();
        }

        Assert.True(condition());
    }

    /// <summary>Copies what a finished log holds until the source says it is finished: a few copies, since nothing is
    /// written any more; a source that stops copying before its end fails the test instead of spinning.</summary>
    private static void CopyToTheEnd(IStreamSource source, System.Buffers.ArrayBufferWriter<byte> destination, int maxBytes)
    {
        while (!source.IsFinished)
        {
            Assert.True(source.TryCopy(destination, maxBytes), "the source is not finished but has nothing more to copy");
        }
    }

    private static int FramesIn(ReadOnlySpan<byte> bytes) => bytes.Count("\n\n"u8);

    private static int OffsetAfter(ReadOnlySpan<byte> bytes, int frames)
    {
        var position = 0;
        for (var i = 0; i < frames; i++)
        {
            position += bytes[position..].IndexOf("\n\n"u8) + 2;
        }

        return position;
    }

    /// <summary>The in-memory store, reported as shared: what LiveReplies does with a store other instances read.</summary>
    private sealed class ReportedShared(IStreamLogStore inner) : IStreamLogStore
    {
        public bool IsShared => true;

        public Task<string> CreateAsync(string streamId, string? ownerKey, CancellationToken cancellationToken) => inner.CreateAsync(streamId, ownerKey, cancellationToken);

        public Task<StreamLogAppend> AppendAsync(string streamId, long offset, ReadOnlyMemory<byte> frames, string? expectedVersion, CancellationToken cancellationToken) =>
            inner.AppendAsync(streamId, offset, frames, expectedVersion, cancellationToken);

        public Task<StreamLogRead?> ReadAsync(string streamId, long fromOffset, CancellationToken cancellationToken) => inner.ReadAsync(streamId, fromOffset, cancellationToken);

        public Task<StreamLogTail?> ReadTailAsync(string streamId, long fromOffset, string? knownVersion, CancellationToken cancellationToken) =>
            inner.ReadTailAsync(streamId, fromOffset, knownVersion, cancellationToken);

        public Task<StreamLogState?> GetStateAsync(string streamId, CancellationToken cancellationToken) => inner.GetStateAsync(streamId, cancellationToken);

        public Task<bool> RequestCancelAsync(string streamId, CancellationToken cancellationToken) => inner.RequestCancelAsync(streamId, cancellationToken);

        public Task MarkReaderAsync(string streamId, CancellationToken cancellationToken) => inner.MarkReaderAsync(streamId, cancellationToken);
    }

    [Fact]
    public async Task AFinishedReplyTheInMemoryStoreRefused_StaysInMemoryForTheGraceWindow()
    {
        using var store = new InMemoryStreamLogStore(_time, TimeSpan.FromHours(1), maxTotalBytes: 16);
        using var replies = Create(store, new Frames(5));
        var reply = replies.Start("r", Request, Anonymous);
        await WaitUntilAsync(() => reply.Log.IsCompleted);
        await WaitUntilAsync(() => _observer.Invocations.Any(i => i.Method.Name == nameof(IChatStreamObserver.StoreFailed) && (string)i.Arguments[0] == "append"));
        await WaitUntilAsync(() => _time.CreatedWithDue(_options.Grace) == 1); // the grace window it stays for

        await _time.AdvanceAsync(TimeSpan.FromSeconds(29), until: () => replies.Find(reply.StreamId) is null);
        Assert.Same(reply, replies.Find(reply.StreamId));
        Assert.Equal(0, store.TotalBytes);

        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntilAsync(() => replies.Find(reply.StreamId) is null);
    }

    [Fact]
    public void A_disposed_reply_still_answers_whether_it_was_stopped()
    {
        var reply = new LiveReply(StreamId.New(), "r", null);
        reply.Stop(StreamStopReason.Cancelled);
        reply.Dispose();

        Assert.True(reply.Stopping.IsCancellationRequested);
        reply.Stop(StreamStopReason.Abandoned);
        Assert.Equal(StreamStopReason.Cancelled, reply.StopReason);
    }

    private static readonly StreamLogAppend Appended = new(true, "v", null);

    private Mock<IStreamLogStore> SharedStore(bool cancelRequested, Func<DateTimeOffset?>? readerSeenAt)
    {
        var store = new Mock<IStreamLogStore>();
        store.SetupGet(s => s.IsShared).Returns(true);
        store.Setup(s => s.CreateAsync(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).ReturnsAsync("v");
        store.Setup(s => s.AppendAsync(It.IsAny<string>(), It.IsAny<long>(), It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<string?>(), It.IsAny<CancellationToken>())).ReturnsAsync(Appended);
        store.Setup(s => s.GetStateAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => new StreamLogState(_time.GetUtcNow(), 0, cancelRequested, readerSeenAt?.Invoke(), _time.GetUtcNow(), null));
        return store;
    }

    /// <summary>A producer that writes meta and waits to be stopped, like a long reply.</summary>
    private sealed class UntilStopped : IChatStreamer
    {
        public async Task<StreamSummary> ProduceAsync(IProducedReply stream, ChatRequest request, Func<StreamSummary, Task> beforeDone, CancellationToken cancellationToken)
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
            await beforeDone(summary);
            frames.WriteDone(summary);
            stream.Log.Complete();
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

        public async Task<StreamSummary> ProduceAsync(IProducedReply stream, ChatRequest request, Func<StreamSummary, Task> beforeDone, CancellationToken cancellationToken)
        {
            _frames = new SseFrameWriter(stream.Log, stream.StreamId);
            _frames.WriteMeta("r", stream.StreamId, "test", "test");
            stream.Log.Publish();
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            var summary = new StreamSummary(StreamFinishReason.Cancelled, null, null, 0, TimeSpan.Zero, 0);
            await beforeDone(summary);
            _frames.WriteDone(summary);
            stream.Log.Complete();
            return summary;
        }
    }

    /// <summary>A producer that writes a number of chunks and finishes.</summary>
    private sealed class Frames(int chunks) : IChatStreamer
    {
        public async Task<StreamSummary> ProduceAsync(IProducedReply stream, ChatRequest request, Func<StreamSummary, Task> beforeDone, CancellationToken cancellationToken)
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
            await beforeDone(summary);
            frames.WriteDone(summary);
            stream.Log.Complete();
            return summary;
        }
    }
}
