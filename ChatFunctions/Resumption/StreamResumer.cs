using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>Where a resuming client continues, or why it cannot.</summary>
public sealed record ResumeResult(IStreamSource? Source, Refusal? Rejection);

/// <summary>
/// Resolves resume and stop requests. A stream produced here is resumed from memory (no storage round trip, no
/// added delay); any other is read from the store and followed until its done frame. Ids are checked before
/// anything is looked up, so a hostile id never reaches the store, and a client gets only the stream it names.
/// </summary>
public sealed class StreamResumer(
    LiveReplies live,
    IStreamLogStore store,
    IOptions<ResumeOptions> resumeOptions,
    IOptions<ChatServiceOptions> chatOptions,
    TimeProvider time,
    IChatStreamObserver observer,
    ILogger<StreamResumer> logger)
{
    /// <summary>The field a rejected resume position is named by: the Last-Event-ID header (or its query parameter).</summary>
    public const string PositionField = "Last-Event-ID";

    private readonly ResumeOptions _options = resumeOptions.Value;

    public async Task<ResumeResult> OpenAsync(string streamId, int sequence, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var callerKey = ReplyOwner.KeyOf(caller);
        if (live.Find(streamId) is { } stream && MayAccess(stream.OwnerKey, callerKey))
        {
            return await OpenLiveAsync(stream, sequence, cancellationToken);
        }

        // Not produced here, or not this caller's: one path for both, the same store reads and waits, so that how long
        // a 404 takes does not tell whether another caller's stream exists.
        StreamLogRead? read;
        try
        {
            read = Accessible(await store.ReadAsync(streamId, 0, cancellationToken), callerKey);

            // A stream another instance started moments ago may not be stored yet (its log is created beside the first
            // frames, never before them). 404 tells a client to regenerate, so look again for up to a flush interval.
            for (var attempt = 0; read is null && store.IsShared && attempt < 2; attempt++)
            {
                await Task.Delay(_options.FlushInterval / 2, time, cancellationToken);
                read = Accessible(await store.ReadAsync(streamId, 0, cancellationToken), callerKey);
            }
        }
        catch (StreamLogUnavailableException)
        {
            return Reject(StoreUnavailable());
        }

        if (read is null)
        {
            return Reject(NotFound());
        }

        if (time.GetUtcNow() - read.State.CreatedAt > _options.Retention)
        {
            return Reject(new Refusal(RefusalKind.Expired, "streamId",
                $"The stream has expired: streams can be resumed for {_options.RetentionMinutes} minutes."));
        }

        var staleAfter = TimeSpan.FromSeconds(chatOptions.Value.UpstreamIdleTimeoutSeconds + 15);
        var markInterval = TimeSpan.FromSeconds(Math.Max(1, _options.GraceSeconds / 3.0));
        var source = new StoredStreamSource(store, streamId, read, sequence, time, _options.FlushInterval, markInterval, staleAfter, logger);
        if (source.IsFinished && source.FramesSeen < sequence)
        {
            return Reject(BeyondEnd());
        }

        observer.StreamResumed("store");
        ResumptionLog.StreamResumed(logger, sequence, "store");
        return new ResumeResult(source, null);
    }

    /// <summary>
    /// Stops a stream wherever it is produced: at once here; produced elsewhere, the stop is written to the store, the
    /// producer meets it at its next contact with the store (<see cref="ReplyPersister.ContactInterval"/>) and ends the
    /// reply <c>cancelled</c>, and this answers only once that ending is stored: null (204) when the reply has ended,
    /// a not-confirmed refusal when its producer did not confirm within <see cref="StopConfirmWait"/>.
    /// </summary>
    public async Task<Refusal?> StopAsync(string streamId, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var callerKey = ReplyOwner.KeyOf(caller);
        if (live.Find(streamId) is { } stream && MayAccess(stream.OwnerKey, callerKey))
        {
            ResumptionLog.StopRequested(logger, stream.RequestId);
            stream.Stop(StreamStopReason.Cancelled);
            return null;
        }

        // Not here, or not this caller's: the same one store read either way (see OpenAsync).
        try
        {
            var state = await store.GetStateAsync(streamId, cancellationToken);
            if (state is null || !MayAccess(state.OwnerKey, callerKey))
            {
                return NotFound();
            }

            // Nothing runs any more: a reply that ended (a store only this instance reads holds finished replies only),
            // or one whose producer is gone (its log has not grown for longer than a live producer ever pauses).
            var tail = Math.Max(0, state.Length - MaxDoneFrameBytes);
            if (!store.IsShared || time.GetUtcNow() - state.LastModified > StaleAfter || await EndsWithDoneAsync(streamId, tail, cancellationToken))
            {
                return null;
            }

            if (!await store.RequestCancelAsync(streamId, cancellationToken))
            {
                return NotFound();
            }

            ResumptionLog.StopForwarded(logger);
            return await WaitForEndingAsync(streamId, tail, cancellationToken);
        }
        catch (StreamLogUnavailableException)
        {
            return StoreUnavailable();
        }
    }

    /// <summary>How long a stop sent here waits for the producing instance to store the stopped reply's ending: its
    /// next contact with the store and its last append, plus <see cref="StopConfirmAllowance"/>.</summary>
    public TimeSpan StopConfirmWait => ReplyPersister.ContactInterval(_options) + _options.FlushInterval + StopConfirmAllowance;

    /// <summary>Round trips to the store on both instances (this one's cancel, the producer's failed append and its
    /// read of the state, its last append) and the producer's own bookkeeping between the model call's end and its
    /// done frame (recording what the reply cost, at most 2 s).</summary>
    public static readonly TimeSpan StopConfirmAllowance = TimeSpan.FromSeconds(3);

    // A done frame with usage and metrics is a few hundred bytes: the last 4 KiB of a log always hold it whole.
    private const int MaxDoneFrameBytes = 4 * 1024;

    private TimeSpan StaleAfter => TimeSpan.FromSeconds(chatOptions.Value.UpstreamIdleTimeoutSeconds + 15);

    /// <summary>Follows the log from <paramref name="from"/> (a frame boundary at or before its end) until its done frame
    /// or the confirmation deadline, at the followers' polling beat.</summary>
    private async Task<Refusal?> WaitForEndingAsync(string streamId, long from, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var poll = _options.FlushInterval / 2;
        while (time.GetElapsedTime(started) < StopConfirmWait)
        {
            await Task.Delay(poll, time, cancellationToken);
            if (await EndsWithDoneAsync(streamId, from, cancellationToken))
            {
                return null;
            }
        }

        ResumptionLog.StopNotConfirmed(logger, (int)StopConfirmWait.TotalMilliseconds);
        return new Refusal(RefusalKind.NotConfirmed, "streamId",
            $"The stop was asked for, but the instance producing the stream did not confirm it within {StopConfirmWait.TotalSeconds:0.##} s: the reply may still be running. Send the stop again.")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };
    }

    /// <summary>Whether the stored log, read from <paramref name="from"/>, ends with its done frame.</summary>
    private async Task<bool> EndsWithDoneAsync(string streamId, long from, CancellationToken cancellationToken)
    {
        var read = await store.ReadAsync(streamId, from, cancellationToken);
        if (read is null)
        {
            return false;
        }

        var bytes = read.Bytes.Span;
        if (!bytes.EndsWith(SseFrameWriter.FrameEnd))
        {
            return false;
        }

        var body = bytes[..^SseFrameWriter.FrameEnd.Length];
        var start = body.LastIndexOf(SseFrameWriter.FrameEnd);
        return SseFrameReader.IsDoneFrame(start < 0 ? body : body[(start + SseFrameWriter.FrameEnd.Length)..]);
    }

    /// <summary>
    /// A stream produced here: read from its live log. A reader is attached at the log's first held byte before
    /// anything else, which keeps the log from releasing more; frames the log already released to the store (a long
    /// reply, resumed from early on) are read from the store once, then the live log follows.
    /// </summary>
    private async Task<ResumeResult> OpenLiveAsync(LiveReply stream, int sequence, CancellationToken cancellationToken)
    {
        var log = stream.Log;
        var reader = log.AttachAtStart(out var released);
        var live = new LiveLogSource(log, reader);
        try
        {
            IStreamSource source;
            if (sequence >= released)
            {
                var held = log.Copy(reader.Position, log.Published);
                var offset = SseFrameReader.OffsetAfterFrames(held.Span, sequence - released);
                if (offset < 0)
                {
                    live.Dispose();
                    return Reject(BeyondEnd());
                }

                reader.Advance(reader.Position + offset);
                source = live;
            }
            else
            {
                StreamLogRead? read;
                try
                {
                    read = await store.ReadAsync(stream.StreamId, 0, cancellationToken);
                }
                catch (StreamLogUnavailableException)
                {
                    live.Dispose();
                    return Reject(StoreUnavailable());
                }

                // The store holds at least everything released (release follows a stored append), byte for byte.
                var bytes = read is null ? ReadOnlySpan<byte>.Empty : read.Bytes.Span;
                var from = SseFrameReader.OffsetAfterFrames(bytes, sequence);
                var to = SseFrameReader.OffsetAfterFrames(bytes, released);
                if (from < 0 || to != reader.Position)
                {
                    live.Dispose();
                    return Reject(StoreUnavailable());
                }

                source = new StorePrefixedLiveSource(read!.Bytes[from..to], live);
            }

            observer.StreamResumed("memory");
            ResumptionLog.StreamResumed(logger, sequence, "memory");
            return new ResumeResult(source, null);
        }
        catch
        {
            live.Dispose();
            throw;
        }
    }

    // Another caller's stream is reported as unknown: its existence is not theirs to learn. Anonymous streams have no
    // owner: their unguessable id is the capability (an address changes when a phone changes networks).
    private static bool MayAccess(string? owner, string? caller) => owner is null || string.Equals(owner, caller, StringComparison.Ordinal);

    private static StreamLogRead? Accessible(StreamLogRead? read, string? callerKey) =>
        read is not null && MayAccess(read.State.OwnerKey, callerKey) ? read : null;

    private static ResumeResult Reject(Refusal rejection) => new(null, rejection);

    private static Refusal Invalid(string detail) => new(RefusalKind.Invalid, PositionField, detail);

    private static Refusal BeyondEnd() => Invalid("Last-Event-ID is past the end of the stream.");

    private static Refusal NotFound() => new(RefusalKind.NotFound, "streamId",
        "No such stream: it never existed here, or it is no longer kept.");

    private static Refusal StoreUnavailable() => new(RefusalKind.Unavailable, "storage",
        "The stream store is unavailable; try again shortly.") { RetryAfter = TimeSpan.FromSeconds(5) };
}
