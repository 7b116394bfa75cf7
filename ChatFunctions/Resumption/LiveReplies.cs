using System.Collections.Concurrent;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>
/// The streams this instance produces. Starting one starts its producer (the relay, <see cref="IChatStreamer"/>)
/// apart from any connection, and its persister, which appends the log to the store in batches. When the last reader
/// leaves, the producer goes on for the grace window so that a reconnect, here or on another instance, continues the
/// same reply; if nobody comes back (and nobody asked to stop), the model call is cancelled so billing stops.
/// A stop sent to another instance reaches the producer through its own appends: they are conditional on the log's
/// version, which a stop changes (<see cref="IStreamLogStore"/>).
/// </summary>
public sealed class LiveReplies : IDisposable
{
    private readonly ConcurrentDictionary<string, LiveReply> _streams = new(StringComparer.Ordinal);
    private readonly IChatStreamer _streamer;
    private readonly string _systemPrompt;
    private readonly IStreamLogStore _store;
    private readonly ResumeOptions _options;
    private readonly TimeProvider _time;
    private readonly IChatStreamObserver _observer;
    private readonly ILogger<LiveReplies> _logger;
    private readonly CancellationTokenRegistration _shutdown;

    public LiveReplies(
        IChatStreamer streamer,
        IStreamLogStore store,
        IOptions<ResumeOptions> options,
        IOptions<ChatServiceOptions> chatOptions,
        TimeProvider time,
        IChatStreamObserver observer,
        ILogger<LiveReplies> logger,
        IHostApplicationLifetime? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(chatOptions);
        _streamer = streamer;
        _systemPrompt = chatOptions.Value.SystemPrompt;
        _store = store;
        _options = options.Value;
        _time = time;
        _observer = observer;
        _logger = logger;
        _shutdown = lifetime?.ApplicationStopping.Register(StopAll) ?? default;
    }

    /// <summary>Streams in memory here (producing, or finished and kept for the grace window because the store lacks them).</summary>
    public int Count => _streams.Count;

    /// <summary>Starts producing a reply for <paramref name="caller"/>, who pays for it (<paramref name="spend"/>, settled
    /// when the reply ends however it ends) and, when signed in, is the only one who may resume or stop it. The request
    /// attaches its own reader to the returned reply's log.</summary>
    public LiveReply Start(string requestId, ChatRequest request, Caller caller, ReplySpend? spend = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var stream = new LiveReply(StreamId.New(), requestId, ReplyOwner.KeyOf(caller), releasable: _store.IsShared);
        _streams[stream.StreamId] = stream;
        stream.Log.ReadersChanged = count =>
        {
            if (count == 0)
            {
                OnLastReaderLeft(stream);
            }
        };
        // A shared store gets batches while the reply is produced, for a resume on another instance. Nobody else reads
        // an in-memory store, and a resume here reads the live log for as long as the reply is kept here (StreamResumer
        // looks here first, and the reply stays past its last append): that store takes the reply once, complete,
        // instead of holding a second, growing copy of every open reply.
        var persisting = _store.IsShared ? PersistAsync(stream) : CreatedAsync(stream);
        _ = RunAsync(stream, request, spend, persisting);
        return stream;
    }

    public LiveReply? Find(string streamId) => _streams.TryGetValue(streamId, out var stream) ? stream : null;

    private async Task RunAsync(LiveReply stream, ChatRequest request, ReplySpend? spend, Task<bool> persisting)
    {
        // The caller goes on to attach its reader; the model call runs on its own, apart from any connection.
        await Task.Yield();
        try
        {
            var summary = await _streamer.ProduceAsync(stream, request, stream.Stopping);
            // The reservation settles to what the reply cost whether or not anyone is still reading (finished, failed,
            // stopped or out of its grace window alike), and before its done frame goes out, so the caller's next
            // request already sees it (on any instance); a slow store delays done by at most this.
            if (spend is not null)
            {
                await spend.SettleAsync(request, _systemPrompt, summary).AsTask()
                    .WaitAsync(BudgetRecordWait, _time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        catch (Exception ex)
        {
            // ProduceAsync ends every stream with a done frame and does not throw; if it ever did, readers still end,
            // and the reservation stays charged (what the reply spent is unknown).
            ResumptionLog.ProducerFailed(_logger, stream.RequestId, ex);
            await (spend?.SettleAsync(null) ?? ValueTask.CompletedTask);
        }

        stream.Log.Complete();
        stream.MarkEnded();

        // A shared store: until the last batch is stored. An in-memory one: its log was created; now it takes the reply.
        var persisted = await persisting;
        var storeHasAll = persisted && (_store.IsShared || await StoreCompletedAsync(stream));

        // Once the store has the whole reply, it leaves memory at once: a late resume here reads the same bytes from
        // the store (one read: nothing left to follow), and a reader still attached keeps the log it reads. Under a
        // steady load of short replies, replies kept for the grace window would outnumber the open ones several times.
        // A reply the store lacks stays for the window, so that a reconnect here can still replay it.
        try
        {
            if (!storeHasAll)
            {
                await Task.Delay(Linger, _time, CancellationToken.None);
            }
        }
        finally
        {
            _streams.TryRemove(stream.StreamId, out _);
            stream.Dispose();
        }
    }

    private static readonly TimeSpan BudgetRecordWait = TimeSpan.FromSeconds(2);

    private TimeSpan Linger => _options.Grace > TimeSpan.FromSeconds(5) ? _options.Grace : TimeSpan.FromSeconds(5);

    /// <summary>Creates the stream's log in the store: its version, or null (after reporting it) when the store refused.</summary>
    private async Task<string?> CreateLogAsync(LiveReply stream)
    {
        await Task.Yield();
        try
        {
            return await _store.CreateAsync(stream.StreamId, stream.OwnerKey, CancellationToken.None);
        }
        catch (StreamLogUnavailableException ex)
        {
            StoreFailed(stream, "create", ex);
            return null;
        }
    }

    private async Task<bool> CreatedAsync(LiveReply stream) => await CreateLogAsync(stream) is not null;

    /// <summary>A store only this instance reads: the complete reply in one append, after its last frame; false when
    /// the store refused it (full), so the reply stays in memory for the grace window like any other.</summary>
    private async Task<bool> StoreCompletedAsync(LiveReply stream)
    {
        try
        {
            await _store.AppendAsync(stream.StreamId, 0, stream.Log.Copy(0, stream.Log.Published), null, CancellationToken.None);
            return true;
        }
        catch (StreamLogUnavailableException ex)
        {
            StoreFailed(stream, "append", ex);
            return false;
        }
    }

    /// <summary>A shared store: appends what was published since the last batch, on the clock's beats of flush intervals
    /// (<see cref="FlushCadence"/>), until the last frame is stored; false when the store gave up. Failures cost resumability only: the live readers
    /// read from memory and never wait on this.</summary>
    /// <remarks>
    /// The appends are also how a stop sent to another instance arrives: each is conditional on the version the
    /// persister last saw, and a stop changes it, so the append fails and brings back the state that says stop. So the
    /// store hears from the producer at least every <see cref="ContactBeats"/> beats while the reply runs (a state read
    /// when the model sent nothing new), which bounds how long a stop waits: <see cref="ContactInterval"/> plus two
    /// round trips.
    /// </remarks>
    private async Task<bool> PersistAsync(LiveReply stream)
    {
        var log = stream.Log;
        if (await CreateLogAsync(stream) is not { } version)
        {
            return false;
        }

        long stored = 0;
        var storedFrames = 0;
        var failures = 0;
        var cadence = new FlushCadence(_options.FlushInterval, _time, stream.StreamId);
        var beat = cadence.Beat;
        var lastContact = beat; // the create
        while (true)
        {
            var completed = log.IsCompleted;
            var end = log.Published;
            var contactDue = FlushCadence.IsContactDue(beat, lastContact);
            // While a reader here keeps up and nobody follows elsewhere, the copy in storage is only for a resume
            // elsewhere, which needs this reader's connection to have died unnoticed: append every ContactBeats beats
            // (each append is a billed write). Once nobody reads here, a reader follows elsewhere, or at the end, every beat.
            var due = completed || contactDue || log.ReaderCount == 0 || IsFollowedElsewhere(stream);
            if (due && (end > stored || (contactDue && !completed)))
            {
                lastContact = beat;
                try
                {
                    if (end > stored)
                    {
                        var batch = log.Copy(stored, end);
                        var append = await _store.AppendAsync(stream.StreamId, stored, batch, version, CancellationToken.None);
                        version = append.Version;
                        if (append.State is { } state)
                        {
                            Observe(stream, state);
                        }

                        if (!append.Appended)
                        {
                            // The state changed (a stop, a reader's mark) and nothing was written: append again with the
                            // new version now, without waiting for the beat. A change per attempt, every time, is a failure.
                            if (++failures >= MaxConsecutiveStoreFailures)
                            {
                                return false;
                            }

                            lastContact = beat - FlushCadence.ContactBeats;
                            continue;
                        }

                        stored = end;
                        storedFrames += SseFrameWriter.CountFrames(batch.Span); // published bytes are whole frames
                        // The store has it now: the log may drop what its readers have passed, so a long reply holds a
                        // few KiB here instead of all of itself.
                        log.Release(stored, storedFrames);
                    }
                    else
                    {
                        // The model sent nothing new (its first token, a retry's wait): look at the state instead, so
                        // that a stop does not wait for the next token.
                        if (await _store.GetStateAsync(stream.StreamId, CancellationToken.None) is { } state)
                        {
                            version = state.Version;
                            Observe(stream, state);
                        }
                    }

                    failures = 0;
                }
                catch (StreamLogUnavailableException ex)
                {
                    StoreFailed(stream, end > stored ? "append" : "state", ex);
                    if (++failures >= MaxConsecutiveStoreFailures)
                    {
                        // The store is down: stop paying for attempts; this stream resumes only on this instance.
                        return false;
                    }
                }
            }

            if (completed && stored == end)
            {
                return true;
            }

            // On the clock's beats (FlushCadence), which a follower elsewhere reads just after: the time an append took
            // comes out of the wait, and an append that overran a beat waits for the next. A stopped reply's last
            // frames go out as soon as they are written: whoever stopped it waits for them.
            await cadence.WaitUntilAsync(cadence.StartOf(cadence.Beat + 1), stream.Stopping.IsCancellationRequested ? stream.Ended : null, CancellationToken.None);
            beat = cadence.Beat;
        }
    }

    /// <summary>What the store says about the stream beyond this instance: a stop asked for anywhere, a reader elsewhere.</summary>
    private void Observe(LiveReply stream, StreamLogState state)
    {
        if (state.ReaderSeenAt is { } seen)
        {
            Volatile.Write(ref stream.ReaderElsewhereSeenTicks, seen.UtcTicks);
        }

        if (state.CancelRequested && !stream.Log.IsCompleted && !stream.Stopping.IsCancellationRequested)
        {
            ResumptionLog.StopRequested(_logger, stream.RequestId);
            stream.Stop(StreamStopReason.Cancelled);
        }
    }

    /// <summary>Whether a reader on another instance said it was following within the grace window.</summary>
    private bool IsFollowedElsewhere(LiveReply stream)
    {
        var ticks = Volatile.Read(ref stream.ReaderElsewhereSeenTicks);
        return ticks != 0 && new DateTimeOffset(ticks, TimeSpan.Zero) + _options.Grace > _time.GetUtcNow();
    }

    private const int MaxConsecutiveStoreFailures = 3;

    /// <summary>Flush intervals between the producer's contacts with the store while a reader keeps up here.</summary>
    public const int ContactBeats = FlushCadence.ContactBeats;

    /// <summary>The longest the producer goes without contacting the store (an append, or a state read when the
    /// model sent nothing new): <see cref="ContactBeats"/> flush intervals, 1 s by default. A stop sent to another
    /// instance reaches the model call within this plus two store round trips.</summary>
    public TimeSpan ContactInterval => _options.FlushInterval * ContactBeats;

    private void StoreFailed(LiveReply stream, string operation, Exception exception)
    {
        ResumptionLog.StoreWriteFailed(_logger, stream.RequestId, operation, exception.InnerException?.GetType().Name ?? exception.GetType().Name);
        _observer.StoreFailed(operation);
    }

    private void OnLastReaderLeft(LiveReply stream)
    {
        Volatile.Write(ref stream.LastReaderLeftTicks, _time.GetUtcNow().UtcTicks);
        if (stream.Log.IsCompleted || Interlocked.Exchange(ref stream.Watching, 1) == 1)
        {
            return;
        }

        if (_options.GraceSeconds == 0)
        {
            // No grace: a disconnect stops the model at once, as before resumable streams.
            Interlocked.Exchange(ref stream.Watching, 0);
            Abandon(stream);
            return;
        }

        _ = WatchDetachedAsync(stream);
    }

    /// <summary>
    /// Counts the grace window down while no reader is attached here. A reader following from another instance, as the
    /// persister last saw it in the store, extends the window; a stop asked for elsewhere reaches the persister.
    /// </summary>
    private async Task WatchDetachedAsync(LiveReply stream)
    {
        var log = stream.Log;
        try
        {
            while (!log.IsCompleted && log.ReaderCount == 0)
            {
                var deadline = new DateTimeOffset(Volatile.Read(ref stream.LastReaderLeftTicks), TimeSpan.Zero) + _options.Grace;
                var seenTicks = Volatile.Read(ref stream.ReaderElsewhereSeenTicks);
                if (seenTicks != 0 && new DateTimeOffset(seenTicks, TimeSpan.Zero) + _options.Grace > deadline)
                {
                    deadline = new DateTimeOffset(seenTicks, TimeSpan.Zero) + _options.Grace;
                }

                var remaining = deadline - _time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    Abandon(stream);
                    return;
                }

                // With a shared store the persister may learn of a reader elsewhere meanwhile: look again each interval.
                var wait = _store.IsShared && _options.FlushInterval < remaining ? _options.FlushInterval : remaining;
                await Task.Delay(wait, _time, stream.Stopping);
            }
        }
        catch (OperationCanceledException) when (stream.Stopping.IsCancellationRequested)
        {
            // Stopped for another reason meanwhile.
        }
        finally
        {
            Interlocked.Exchange(ref stream.Watching, 0);
        }

        // A reader came back while this watcher was leaving: if it has left again since, watch again.
        if (!log.IsCompleted && log.ReaderCount == 0 && !stream.Stopping.IsCancellationRequested)
        {
            OnLastReaderLeft(stream);
        }
    }

    private void Abandon(LiveReply stream)
    {
        if (!stream.Log.IsCompleted)
        {
            ResumptionLog.StreamAbandoned(_logger, stream.RequestId, _options.GraceSeconds);
            _observer.StreamAbandoned();
            stream.Stop(StreamStopReason.Abandoned);
        }
    }

    private void StopAll()
    {
        foreach (var stream in _streams.Values)
        {
            stream.Stop(StreamStopReason.Shutdown);
        }
    }

    public void Dispose()
    {
        _shutdown.Dispose();
        StopAll();
    }
}
