using System.Buffers;
using ChatFunctions.Streaming;

namespace ChatFunctions.Resumption;

/// <summary>
/// A resume on the producing instance from a frame its live log has already released to the store: the frames from
/// there to the log's <see cref="StreamLog.Start"/>, read once from the store, then the live log itself, from a reader
/// that was attached at that start before the store was read (so nothing between the two can be released).
/// </summary>
public sealed class StorePrefixedLiveSource(ReadOnlyMemory<byte> prefix, LiveLogSource live) : IStreamSource
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public bool TryCopy(IBufferWriter<byte> destination, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (_prefix.IsEmpty)
        {
            return live.TryCopy(destination, maxBytes);
        }

        var take = Math.Min(maxBytes, _prefix.Length);
        destination.Write(_prefix.Span[..take]);
        _prefix = _prefix[take..];
        return true;
    }

    public bool IsFinished => _prefix.IsEmpty && live.IsFinished;

    public ValueTask WaitAsync(CancellationToken cancellationToken) =>
        _prefix.IsEmpty ? live.WaitAsync(cancellationToken) : ValueTask.CompletedTask;

    public void Nudge() => live.Nudge();

    public void Dispose() => live.Dispose();
}
