namespace ChatFunctions.Resumption;

/// <summary>
/// When a stream's log meets the store. Beats fall on the wall clock's multiples of the flush interval, shifted by a
/// phase taken from the stream's id, the same on every instance: a follower on another instance knows when the
/// producer's appends leave without asking, and reads just after a beat (<see cref="StoredStreamSource"/>) instead of
/// polling blind, one read per append instead of two. The phase spreads an instance's streams over the interval, so
/// their appends do not all leave at the same instant.
/// </summary>
/// <remarks>
/// While a reader keeps up on the producing instance and nobody follows elsewhere, the stored copy serves only a stop
/// sent to another instance (which the producer meets at its next contact) and a resume after a drop the producer did
/// not notice: the producer then contacts the store every <see cref="ContactBeats"/> beats, which is what an
/// undisturbed reply costs (one create, one append a second, the last batch). Once nobody reads here or a reader
/// follows elsewhere, every beat.
/// </remarks>
public sealed class FlushCadence
{
    /// <summary>Beats between the producer's contacts with the store while a reader keeps up here and nobody follows
    /// elsewhere: four at the default 250 ms, so an undisturbed 20 s reply costs 1 + 20 + 1 requests.</summary>
    public const int ContactBeats = 4;

    private readonly long _intervalTicks;
    private readonly long _phaseTicks;
    private readonly TimeProvider _time;

    /// <param name="streamId">The stream whose beats these are (their phase); null for beats on the multiples themselves.</param>
    public FlushCadence(TimeSpan interval, TimeProvider time, string? streamId = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        Interval = interval;
        _intervalTicks = interval.Ticks;
        _phaseTicks = streamId is null ? 0 : (long)(Fnv1a(streamId) % (ulong)interval.Ticks);
        _time = time;
    }

    /// <summary>How far after the wall clock's multiples of the interval this stream's beats fall.</summary>
    public TimeSpan Phase => TimeSpan.FromTicks(_phaseTicks);

    // A hash that is the same in every process (string.GetHashCode is randomised per process).
    private static ulong Fnv1a(string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    public TimeSpan Interval { get; }

    /// <summary>The longest the producer goes without contacting the store: <see cref="ContactBeats"/> intervals.</summary>
    public TimeSpan ContactInterval => Interval * ContactBeats;

    /// <summary>The number of the beat under way now.</summary>
    public long Beat => (_time.GetUtcNow().UtcTicks - _phaseTicks) / _intervalTicks;

    /// <summary>When beat <paramref name="beat"/> starts.</summary>
    public DateTimeOffset StartOf(long beat) => new((beat * _intervalTicks) + _phaseTicks, TimeSpan.Zero);

    /// <summary>Whether the producer, which last contacted the store at <paramref name="lastContact"/>, must contact it
    /// at <paramref name="beat"/> even with a reader keeping up here.</summary>
    public static bool IsContactDue(long beat, long lastContact) => beat - lastContact >= ContactBeats;

    /// <summary>Waits until <paramref name="due"/> by this clock (a timer that fires early waits the rest, never less
    /// than a millisecond: <see cref="ClockDelay"/>), or until <paramref name="interrupt"/> completes.</summary>
    public async Task WaitUntilAsync(DateTimeOffset due, Task? interrupt, CancellationToken cancellationToken)
    {
        while (true)
        {
            var remaining = due - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            var delay = ClockDelay.ForAsync(remaining, _time, cancellationToken);
            if (interrupt is null)
            {
                await delay;
            }
            else if (await Task.WhenAny(delay, interrupt) == interrupt)
            {
                return;
            }
            else
            {
                await delay; // observes a cancellation
            }
        }
    }
}
