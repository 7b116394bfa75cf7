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
