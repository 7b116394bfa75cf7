using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// A fake clock that knows when the work its timers woke has come back to wait on it. Code that loops on
/// <c>Task.Delay(interval, time)</c> wakes when <see cref="FakeTimeProvider.Advance"/> fires its timer and continues on
/// the thread pool after <c>Advance</c> has returned. <see cref="AdvanceAsync"/> returns once every loop it woke has armed
/// its next timer (or the caller's condition for a loop that ends holds), so a test steps such loops one beat at a
/// time and may assert that nothing happened, instead of sleeping and hoping the loop ran meanwhile.
/// </summary>
public sealed class SteppedTime : FakeTimeProvider
{
    /// <summary>How long a step may take in real time before the test fails. It bounds a hang, not a timing: a woken
    /// loop re-arms within microseconds on an idle machine; with the whole suite on two loaded cores the thread pool
    /// was seen to take over 15 s to run a continuation.</summary>
    public static readonly TimeSpan StepBound = TimeSpan.FromSeconds(60);

    private readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan> _dueTimes = new();
    private int _created;
    private int _fired;

    /// <summary>Timers created and fired so far, to wait for what happens after this point.</summary>
    public readonly record struct Mark(int Created, int Fired);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        _dueTimes.Enqueue(dueTime);
        Interlocked.Increment(ref _created);
        return base.CreateTimer(s =>
        {
            Interlocked.Increment(ref _fired);
            callback(s);
        }, state, dueTime, period);
    }

    /// <summary>How many timers were created to fire <paramref name="dueTime"/> after their creation: a wait of that
    /// length that the code under test armed, such as a grace window.</summary>
    public int CreatedWithDue(TimeSpan dueTime) => _dueTimes.Count(d => d == dueTime);

    /// <summary>Timers created with a due time above zero and at most <paramref name="dueTime"/>: a loop waiting for
    /// its next beat, wherever in the interval the beat falls.</summary>
    public int CreatedWithDueWithin(TimeSpan dueTime) => _dueTimes.Count(d => d > TimeSpan.Zero && d <= dueTime);

    public Mark Now() => new(Volatile.Read(ref _created), Volatile.Read(ref _fired));

    /// <summary>Moves the clock on, then waits until every timer that fired has been followed by a new one (the loop it
    /// woke is waiting again), or until <paramref name="until"/> holds (a woken loop that ends arms no timer).</summary>
    public async Task AdvanceAsync(TimeSpan by, Func<bool>? until = null)
    {
        var mark = Now();
        Advance(by);
        var fired = Volatile.Read(ref _fired) - mark.Fired;
        await WaitForTimersAsync(mark, fired, until);
    }

    /// <summary>Waits until <paramref name="count"/> timers were created after <paramref name="mark"/>, or
    /// <paramref name="until"/> holds.</summary>
    public async Task WaitForTimersAsync(Mark mark, int count, Func<bool>? until = null)
    {
        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref _created) - mark.Created < count && until?.Invoke() != true)
        {
            if (clock.Elapsed > StepBound)
            {
                throw new TimeoutException(
                    $"{count} timer(s) fired or expected, {Volatile.Read(ref _created) - mark.Created} armed since, within {StepBound.TotalSeconds} s: a woken loop neither waits again nor ended");
            }

            await Task.Delay(Poll.StepInterval);
        }
    }
}
