using System.Buffers;

namespace ChatFunctions.Streaming;

/// <summary>
/// Where one client's bytes come from: a live stream's in-memory log on this instance, or the stored log of a stream
/// produced on another instance. The delivery loop is the same for both.
/// </summary>
public interface IStreamSource : IDisposable
{
    /// <summary>Copies at most <paramref name="maxBytes"/> of what is available into <paramref name="destination"/>,
    /// whole frames or not; false when nothing new was available.</summary>
    bool TryCopy(IBufferWriter<byte> destination, int maxBytes);

    /// <summary>Whether everything up to the stream's last frame has been copied.</summary>
    bool IsFinished { get; }

    /// <summary>Completes when more may be available, the stream finished, or <see cref="Nudge"/> was called (before or
    /// during the wait). It may complete without an exception when <paramref name="cancellationToken"/> is cancelled:
    /// the caller checks the token.</summary>
    ValueTask WaitAsync(CancellationToken cancellationToken);

    /// <summary>Wakes a pending or the next <see cref="WaitAsync"/> (the delivery's timer for heartbeats, or its
    /// cancelled request).</summary>
    void Nudge();
}

/// <summary>A reader of a live stream's log on this instance: no storage round trip, no added delay.</summary>
public sealed class LiveLogSource : IStreamSource
{
    private readonly StreamLog _log;
    private readonly StreamLog.Reader _reader;

    public LiveLogSource(StreamLog log, long position)
    {
        ArgumentNullException.ThrowIfNull(log);
        _log = log;
        _reader = log.Attach(position);
    }

    /// <summary>A source over a reader already attached to <paramref name="log"/> (it is disposed with the source).</summary>
    public LiveLogSource(StreamLog log, StreamLog.Reader reader)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(reader);
        _log = log;
        _reader = reader;
    }

    public bool TryCopy(IBufferWriter<byte> destination, int maxBytes)
    {
        var position = _reader.Position;
        var next = _log.CopyTo(position, position + maxBytes, destination);
        if (next == position)
        {
            return false;
        }

        _reader.Advance(next);
        return true;
    }

    public bool IsFinished => _log.IsCompleted && _reader.Position >= _log.Published;

    // The delivery nudges on cancellation (one registration per delivery), so the wait itself needs no token:
    // nothing is allocated per wait.
    public ValueTask WaitAsync(CancellationToken cancellationToken) => _reader.WaitAsync();

    public void Nudge() => _reader.Wake();

    public void Dispose() => _reader.Dispose();
}
