using ChatFunctions.Streaming;

namespace ChatFunctions.Resumption;

/// <summary>Why a stream's producer was told to stop before the model finished.</summary>
public enum StreamStopReason
{
    None,

    /// <summary>Someone asked (DELETE /api/chat/streams/{id}).</summary>
    Cancelled,

    /// <summary>Every reader left and nobody resumed within the grace window.</summary>
    Abandoned,

    /// <summary>The instance is shutting down.</summary>
    Shutdown,
}

/// <summary>
/// A stream being produced on this instance: its id, its in-memory log and the switch that stops its model call.
/// It lives in <see cref="LiveReplies"/> from its start until a while after its last frame.
/// </summary>
public sealed class LiveReply : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private int _stopReason;

    public LiveReply(string streamId, string requestId, string? ownerKey)
    {
        StreamId = streamId;
        RequestId = requestId;
        OwnerKey = ownerKey;
    }

    public string StreamId { get; }

    public string RequestId { get; }

    /// <summary>The caller key of whoever started it, or null when anonymous.</summary>
    public string? OwnerKey { get; }

    public StreamLog Log { get; } = new();

    /// <summary>Cancelled when the producer must stop (see <see cref="StopReason"/>).</summary>
    public CancellationToken Stopping => _stop.Token;

    public StreamStopReason StopReason => (StreamStopReason)Volatile.Read(ref _stopReason);

    /// <summary>1 while a watcher counts the grace window down (no reader attached).</summary>
    internal int Watching;

    /// <summary>When the last reader left (UTC ticks): the grace window counts from here.</summary>
    internal long LastReaderLeftTicks;

    private TaskCompletionSource _persisterWake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="WakePersister"/>: the persister takes it before it looks at the
    /// log, so a wake that comes while it appends or decides is not lost.</summary>
    internal Task PersisterWake => Volatile.Read(ref _persisterWake).Task;

    /// <summary>Asks the persister to look at the log now instead of at its next beat (the last reader left).</summary>
    internal void WakePersister() =>
        Interlocked.Exchange(ref _persisterWake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

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
