using System.Buffers;

namespace ChatFunctions.Streaming;

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
