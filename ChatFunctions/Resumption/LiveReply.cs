using ChatFunctions.Streaming;

namespace ChatFunctions.Resumption;

/// <summary>
/// A stream being produced on this instance: its id, its in-memory log and the switch that stops its model call.
/// It lives in <see cref="LiveReplies"/> from its start until the store has its last frame (or the grace window ends).
/// </summary>
public sealed class LiveReply : IProducedReply, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopReason;

    /// <param name="releasable">Whether a shared store will hold the log too, so that the log may drop what it holds
    /// (<see cref="StreamLog.Release"/>).</param>
    public LiveReply(string streamId, string requestId, string? ownerKey, bool releasable = false)
    {
        StreamId = streamId;
        RequestId = requestId;
        OwnerKey = ownerKey;
        Stopping = _stop.Token;
        Log = new StreamLog(releasable);
    }

    public string StreamId { get; }

    public string RequestId { get; }

    /// <summary>The caller key of whoever started it, or null when anonymous.</summary>
    public string? OwnerKey { get; }

    public StreamLog Log { get; }

    /// <summary>Cancelled when the producer must stop (see <see cref="StopReason"/>). Taken once, so it can still be
    /// read after the reply is disposed (a finished reply the store holds leaves memory at once).</summary>
    public CancellationToken Stopping { get; }

    public StreamStopReason StopReason => (StreamStopReason)Volatile.Read(ref _stopReason);

    /// <summary>1 while a watcher counts the grace window down (no reader attached).</summary>
    internal int Watching;

    /// <summary>When the last reader left (UTC ticks): the grace window counts from here.</summary>
    internal long LastReaderLeftTicks;

    /// <summary>The last time a reader on another instance said it was following (UTC ticks, 0: never), as the
    /// persister last saw it in the store.</summary>
    internal long ReaderElsewhereSeenTicks;

    /// <summary>Completes once the producer has ended the log (its done frame is published).</summary>
    public Task Ended => _ended.Task;

    internal void MarkEnded() => _ended.TrySetResult();

    /// <summary>Stops the model call; the producer ends the log with its done frame. The first reason wins.</summary>
    public void Stop(StreamStopReason reason)
    {
        if (Interlocked.CompareExchange(ref _stopReason, (int)reason, (int)StreamStopReason.None) == (int)StreamStopReason.None)
        {
            try
            {
                _stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Already finished and disposed.
            }
        }
    }

    public void Dispose() => _stop.Dispose();
}
