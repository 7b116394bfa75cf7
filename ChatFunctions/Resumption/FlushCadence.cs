namespace ChatFunctions.Resumption;

/// <summary>
/// When a stream's log meets the store. Beats fall on the wall clock's multiples of the flush interval, the same on
/// every instance, so a follower on another instance knows when the producer's appends leave without asking: it reads
/// just after a beat (<see cref="StoredStreamSource"/>) instead of polling blind, one read per append instead of two.
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
    private readonly TimeProvider _time;

    public FlushCadence(TimeSpan interval, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        Interval = interval;
        _intervalTicks = interval.Ticks;
        _time = time;
    }

    public TimeSpan Interval { get; }

    /// <summary>The longest the producer goes without contacting the store: <see cref="ContactBeats"/> intervals.</summary>
    public TimeSpan ContactInterval => Interval * ContactBeats;

    /// <summary>The number of the beat under way now.</summary>
    public long Beat => _time.GetUtcNow().UtcTicks / _intervalTicks;

    /// <summary>When beat <paramref name="beat"/> starts.</summary>
    public DateTimeOffset StartOf(long beat) => new(beat * _intervalTicks, TimeSpan.Zero);

    /// <summary>Whether the producer, which last contacted the store at <paramref name="lastContact"/>, must contact it
    /// at <paramref name="beat"/> even with a reader keeping up here.</summary>
    public static bool IsContactDue(long beat, long lastContact) => beat - lastContact >= ContactBeats;

    /// <summary>Waits until <paramref name="due"/> by this clock (a timer that fires early waits the rest), or until
    /// <paramref name="interrupt"/> completes.</summary>
    public async Task WaitUntilAsync(DateTimeOffset due, Task? interrupt, CancellationToken cancellationToken)
    {
        while (true)
        {
            var remaining = due - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            var delay = Task.Delay(remaining, _time, cancellationToken);
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
