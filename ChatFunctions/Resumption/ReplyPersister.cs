using ChatFunctions.Configuration;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>
/// Copies a live reply's log into the stream log store. A shared store gets batches while the reply is produced, on
/// the cadence set here, for a resume on another instance; a store only this instance reads takes the reply once,
/// complete. Its appends are also how a stop sent to another instance reaches the producer: they are conditional on
/// the log's version, which a stop changes (<see cref="IStreamLogStore"/>).
/// </summary>
public sealed class ReplyPersister(
    IStreamLogStore store,
    IOptions<ResumeOptions> options,
    TimeProvider time,
    IChatStreamObserver observer,
    ILogger<ReplyPersister> logger)
{
    private readonly ResumeOptions _options = options.Value;

    /// <summary>Flush intervals between the producer's contacts with the store while a reader keeps up here.</summary>
    public const int ContactBeats = FlushCadence.ContactBeats;

    private const int MaxConsecutiveStoreFailures = 3;

    /// <summary>The longest the producer goes without contacting the store (an append, or a state read when the
    /// model sent nothing new): <see cref="ContactBeats"/> flush intervals, 1 s by default. A stop sent to another
    /// instance reaches the model call within this plus two store round trips.</summary>
    public static TimeSpan ContactInterval(ResumeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.FlushInterval * ContactBeats;
    }

    /// <summary>Whether readers on other instances read what this persister stores.</summary>
    public bool IsShared => store.IsShared;

    /// <summary>Persists <paramref name="stream"/> until the store holds all of it (true) or gave up (false, after
    /// reporting why). Failures cost resumability only: the live readers read from memory and never wait on this.</summary>
    public Task<bool> PersistAsync(LiveReply stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        // Nobody else reads an in-memory store, and a resume here reads the live log for as long as the reply is kept
        // here (StreamResumer looks here first, and the reply stays past its last append): that store takes the reply
        // once, complete, instead of holding a second, growing copy of every open reply.
        return store.IsShared ? PersistBatchesAsync(stream) : PersistWhenEndedAsync(stream);
    }

    /// <summary>Creates the stream's log in the store: its version, or null (after reporting it) when the store refused.</summary>
    private async Task<string?> CreateLogAsync(LiveReply stream)
    {
        await Task.Yield();
        try
        {
            return await store.CreateAsync(stream.StreamId, stream.OwnerKey, CancellationToken.None);
        }
        catch (StreamLogUnavailableException ex)
        {
            StoreFailed(stream, "create", ex);
            return null;
        }
    }

    /// <summary>A store only this instance reads: the log is created at the start, and the complete reply goes in one
    /// append after its last frame; false when the store refused either (full), so the reply stays in memory for the
    /// grace window like any other.</summary>
    private async Task<bool> PersistWhenEndedAsync(LiveReply stream)
    {
        if (await CreateLogAsync(stream) is null)
        {
            return false;
        }

        await stream.Ended;
        try
        {
            await store.AppendAsync(stream.StreamId, 0, stream.Log.Copy(0, stream.Log.Published), null, CancellationToken.None);
            return true;
        }
        catch (StreamLogUnavailableException ex)
        {
            StoreFailed(stream, "append", ex);
            return false;
        }
    }

    /// <summary>A shared store: appends what was published since the last batch, on the clock's beats of flush intervals
    /// (<see cref="FlushCadence"/>),
    /// until the last frame is stored; false when the store gave up.</summary>
    /// <remarks>
    /// The appends are also how a stop sent to another instance arrives: each is conditional on the version the
    /// persister last saw, and a stop changes it, so the append fails and brings back the state that says stop. So the
    /// store hears from the producer at least every <see cref="ContactBeats"/> beats while the reply runs (a state read
    /// when the model sent nothing new), which bounds how long a stop waits: <see cref="ContactInterval"/> plus two
    /// round trips.
    /// </remarks>
    private async Task<bool> PersistBatchesAsync(LiveReply stream)
    {
        var log = stream.Log;
        if (await CreateLogAsync(stream) is not { } version)
        {
            return false;
        }

        long stored = 0;
        var storedFrames = 0;
        var failures = 0;
        var cadence = new FlushCadence(_options.FlushInterval, time, stream.StreamId);
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
                        var append = await store.AppendAsync(stream.StreamId, stored, batch, version, CancellationToken.None);
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
                        storedFrames += SseFrameReader.CountFrames(batch.Span); // published bytes are whole frames
                        // The store has it now: the log may drop what its readers have passed, so a long reply holds a
                        // few KiB here instead of all of itself.
                        log.Release(stored, storedFrames);
                    }
                    else
                    {
                        // The model sent nothing new (its first token, a retry's wait): look at the state instead, so
                        // that a stop does not wait for the next token.
                        if (await store.GetStateAsync(stream.StreamId, CancellationToken.None) is { } state)
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
            ResumptionLog.StopRequested(logger, stream.RequestId);
            stream.Stop(StreamStopReason.Cancelled);
        }
    }

    /// <summary>Whether a reader on another instance said it was following within the grace window.</summary>
    private bool IsFollowedElsewhere(LiveReply stream)
    {
        var ticks = Volatile.Read(ref stream.ReaderElsewhereSeenTicks);
        return ticks != 0 && new DateTimeOffset(ticks, TimeSpan.Zero) + _options.Grace > time.GetUtcNow();
    }

    private void StoreFailed(LiveReply stream, string operation, Exception exception)
    {
        ResumptionLog.StoreWriteFailed(logger, stream.RequestId, operation, exception.InnerException?.GetType().Name ?? exception.GetType().Name);
        observer.StoreFailed(operation);
    }
}
