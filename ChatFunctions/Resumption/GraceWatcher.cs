using ChatFunctions.Configuration;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>
/// Keeps a reply going for the grace window after its last reader here left, so that a reconnect, here or on another
/// instance, continues the same reply; if nobody comes back (and nobody asked to stop), stops the model call so that
/// billing stops. A reader following from another instance, as the persister last saw it in the store, extends the window.
/// </summary>
public sealed class GraceWatcher(
    IStreamLogStore store,
    IOptions<ResumeOptions> options,
    TimeProvider time,
    IChatStreamObserver observer,
    ILogger<GraceWatcher> logger)
{
    private readonly ResumeOptions _options = options.Value;

    /// <summary>Starts counting the grace window down for <paramref name="stream"/>, whose last reader here just left
    /// (nothing when it has ended or is already watched).</summary>
    public void OnLastReaderLeft(LiveReply stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Volatile.Write(ref stream.LastReaderLeftTicks, time.GetUtcNow().UtcTicks);
        if (stream.Log.IsCompleted || Interlocked.Exchange(ref stream.Watching, 1) == 1)
        {
            return;
        }

        if (_options.GraceSeconds == 0)
        {
            // No grace: a disconnect stops the model at once.
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

                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    Abandon(stream);
                    return;
                }

                // With a shared store the persister may learn of a reader elsewhere meanwhile: look again each interval.
                var wait = store.IsShared && _options.FlushInterval < remaining ? _options.FlushInterval : remaining;
                await ClockDelay.ForAsync(wait, time, stream.Stopping);
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
            ResumptionLog.StreamAbandoned(logger, stream.RequestId, _options.GraceSeconds);
            observer.StreamAbandoned();
            stream.Stop(StreamStopReason.Abandoned);
        }
    }
}
