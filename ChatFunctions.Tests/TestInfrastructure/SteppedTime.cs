using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// A fake clock that knows when the work its timers woke has come back to wait on it. Code that loops on
/// <c>Task.Delay(interval, time)</c> wakes when <see cref="FakeTimeProvider.Advance"/> fires its timer and continues on
/// the thread pool after <c>Advance</c> has returned. <see cref="AdvanceAsync"/> returns once every loop it woke has armed
/// its next timer (or the caller's condition for a loop that ends holds), so a test steps such loops one beat at a
/// time and may assert that nothing happened, instead of sleeping and hoping the loop ran meanwhile.
/// </summary>
/// <remarks>
/// A timer is known by the loop that armed it: the app's and the tests' async methods on the stack of its creation,
/// innermost first (<see cref="ArmedTimer.Loop"/>). A woken loop is waiting again once a timer armed by the same loop
/// appears; a timer any other code arms meanwhile (another loop's wait, a cancellation timeout, a grace window) says
/// nothing about it. Only async methods name a loop: they never run inlined into their callers, so the same wait has
/// the same name on every beat, while a synchronous helper may vanish from the stack once the JIT inlines it.
/// </remarks>
public sealed class SteppedTime : FakeTimeProvider
{
    /// <summary>How long a step may take in real time before the test fails. It bounds a hang, not a timing: a woken
    /// loop re-arms within microseconds on an idle machine; with the whole suite on two loaded cores the thread pool
    /// was seen to take over 15 s to run a continuation.</summary>
    public static readonly TimeSpan StepBound = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    private readonly List<ArmedTimer> _armed = [];

    /// <summary>The timers the <see cref="Advance"/> running on this thread fired, in the order it fired them.</summary>
    [ThreadStatic]
    private static List<ArmedTimer>? t_fired;

    /// <summary>A timer as its creator armed it: when it is due, whether it repeats, and which loop armed it.</summary>
    public sealed class ArmedTimer
    {
        internal ArmedTimer(TimeSpan dueTime, bool periodic, IReadOnlyList<MethodBase> loop)
        {
            DueTime = dueTime;
            Periodic = periodic;
            Loop = loop;
        }

        /// <summary>How long after its arming the timer fires.</summary>
        public TimeSpan DueTime { get; }

        /// <summary>Whether it fires again by itself: its callback runs within <see cref="FakeTimeProvider.Advance"/>
        /// and nothing has to come back to re-arm it.</summary>
        public bool Periodic { get; }

        /// <summary>The async methods of the app and the tests on the stack that armed it, innermost first: for a
        /// persister's beat, <c>FlushCadence.WaitUntilAsync</c> then <c>ReplyPersister.PersistBatchesAsync</c>.</summary>
        public IReadOnlyList<MethodBase> Loop { get; }

        /// <summary>Whether <typeparamref name="T"/>'s own code armed it (its wait, or a helper it awaits).</summary>
        public bool IsArmedBy<T>() => Loop.Any(m => OwnerOf(m) == typeof(T));

        /// <summary>Whether <paramref name="next"/> is this timer's loop waiting again, in one of two ways. Resumed by
        /// this timer, the loop's wait is armed under the methods the wake resumed, outermost the one that armed this
        /// timer: the persister's next beat is armed in <c>WaitUntilAsync &lt;- PersistBatchesAsync &lt;- WaitUntilAsync</c>
        /// (the wait that ended, then the loop that goes on). Resumed by something outside this solution's code (a
        /// store's answer), its methods are where this timer's begin. Below them, this timer's own stack may hold
        /// whatever started the loop (a request, a test), which a later wait no longer has.</summary>
        internal bool IsArmedAgainBy(ArmedTimer next)
        {
            if (Loop.Count == 0)
            {
                // Armed outside any async method of ours: nothing tells whose it is, so any later timer may be its.
                return true;
            }

            var again = next.Loop;
            if (again.Count == 0)
            {
                return false;
            }

            if (again.Count <= Loop.Count && BeginsWith(again, again.Count))
            {
                return true;
            }

            return again[^1] == Loop[0] && again.Count - 1 <= Loop.Count && BeginsWith(again, again.Count - 1);
        }

        /// <summary>Whether this timer's methods begin with the first <paramref name="count"/> of <paramref name="other"/>.</summary>
        private bool BeginsWith(IReadOnlyList<MethodBase> other, int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (Loop[i] != other[i])
                {
                    return false;
                }
            }

            return true;
        }

        public override string ToString() =>
            Loop.Count == 0 ? $"a {DueTime} timer armed outside any async method" : $"{DueTime} in {string.Join(" <- ", Loop.Select(NameOf))}";
    }

    /// <summary>Timers armed so far, to wait for what is armed after this point.</summary>
    public readonly record struct Mark(int Armed);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var stepped = new SteppedTimer(this);
        stepped.Inner = base.CreateTimer(s =>
        {
            // Null while still being created: a timer due at once fires within its creation, not within a step.
            if (stepped.Armed is { } armed)
            {
                t_fired?.Add(armed);
            }

            callback(s);
        }, state, dueTime, period);

        // Counted once the base clock holds it: a step that sees it may advance past it and it fires.
        Record(stepped, dueTime, period);
        return stepped;
    }

    private void Record(SteppedTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        var armed = new ArmedTimer(dueTime, period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero, LoopOnStack());
        lock (_gate)
        {
            timer.Armed = armed;
            _armed.Add(armed);
        }
    }

    /// <summary>A timer whose re-arming by <see cref="ITimer.Change"/> (a cancellation timeout moved on) counts like a
    /// new timer from its caller.</summary>
    private sealed class SteppedTimer(SteppedTime clock) : ITimer
    {
        public ITimer Inner { get; set; } = null!;

        public ArmedTimer? Armed { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = Inner.Change(dueTime, period);
            if (changed && dueTime != Timeout.InfiniteTimeSpan)
            {
                clock.Record(this, dueTime, period);
            }

            return changed;
        }

        public void Dispose() => Inner.Dispose();

        public ValueTask DisposeAsync() => Inner.DisposeAsync();
    }

    /// <summary>How many timers were created to fire <paramref name="dueTime"/> after their creation: a wait of that
    /// length that the code under test armed, such as a grace window.</summary>
    public int CreatedWithDue(TimeSpan dueTime) => Created(t => t.DueTime == dueTime);

    /// <summary>How many of the timers created so far are <paramref name="which"/>.</summary>
    public int Created(Func<ArmedTimer, bool> which)
    {
        ArgumentNullException.ThrowIfNull(which);
        lock (_gate)
        {
            return _armed.Count(which);
        }
    }

    public Mark Now()
    {
        lock (_gate)
        {
            return new(_armed.Count);
        }
    }

    /// <summary>Moves the clock on, then waits until every loop whose timer fired has armed its next one (it is waiting
    /// again), or until <paramref name="until"/> holds (a woken loop that ends arms no timer). A timer armed by other
    /// code does not count. Periodic timers are not waited for: their callbacks ran within the move. A step that fires
    /// no timer returns at once, so a loop still busy when it came (not waiting yet) misses it: wait until the loop
    /// waits (<see cref="Created"/>) before stepping it.</summary>
    public async Task AdvanceAsync(TimeSpan by, Func<bool>? until = null)
    {
        var mark = Now();
        // On a thread of its own: a continuation the timers resume inline then runs on a stack that holds nothing of
        // the test's, so the wait it arms again is named by the loop's methods alone.
        var fired = await Task.Run(() =>
        {
            t_fired = [];
            try
            {
                Advance(by);
                return t_fired;
            }
            finally
            {
                t_fired = null;
            }
        });

        var woken = fired.Where(t => !t.Periodic).ToList();
        var clock = Stopwatch.StartNew();
        while (!AllArmedAgain(mark, woken) && until?.Invoke() != true)
        {
            if (clock.Elapsed > StepBound)
            {
                throw new TimeoutException(
                    $"Within {StepBound.TotalSeconds} s, not every loop woken by a step of {by} waits again or ended. Woken: {string.Join("; ", woken)}. Armed since: {string.Join("; ", ArmedSince(mark))}");
            }

            await Task.Delay(Poll.StepInterval);
        }
    }

    /// <summary>Waits until <paramref name="count"/> timers that are <paramref name="which"/> were created after
    /// <paramref name="mark"/>, or <paramref name="until"/> holds.</summary>
    public async Task WaitForTimersAsync(Mark mark, int count, Func<ArmedTimer, bool> which, Func<bool>? until = null)
    {
        ArgumentNullException.ThrowIfNull(which);
        var clock = Stopwatch.StartNew();
        while (ArmedSince(mark).Count(which) < count && until?.Invoke() != true)
        {
            if (clock.Elapsed > StepBound)
            {
                throw new TimeoutException(
                    $"{count} timer(s) expected within {StepBound.TotalSeconds} s; armed since: {string.Join("; ", ArmedSince(mark))}");
            }

            await Task.Delay(Poll.StepInterval);
        }
    }

    private List<ArmedTimer> ArmedSince(Mark mark)
    {
        lock (_gate)
        {
            return _armed.GetRange(mark.Armed, _armed.Count - mark.Armed);
        }
    }

    /// <summary>Whether each woken timer has its own later timer from the same loop: two replies' persisters woken in
    /// one step need two new beats, not one.</summary>
    private bool AllArmedAgain(Mark mark, List<ArmedTimer> woken)
    {
        if (woken.Count == 0)
        {
            return true;
        }

        var since = ArmedSince(mark);
        foreach (var timer in woken)
        {
            var again = since.FindIndex(timer.IsArmedAgainBy);
            if (again < 0)
            {
                return false;
            }

            since.RemoveAt(again);
        }

        return true;
    }

    /// <summary>The async methods of this solution on the current stack, innermost first.</summary>
    private static List<MethodBase> LoopOnStack()
    {
        var loop = new List<MethodBase>();
        foreach (var frame in new StackTrace(fNeedFileInfo: false).GetFrames())
        {
            if (frame.GetMethod() is { Name: nameof(IAsyncStateMachine.MoveNext), DeclaringType: { } machine } method
                && typeof(IAsyncStateMachine).IsAssignableFrom(machine)
                && machine.DeclaringType != typeof(SteppedTime) // the step itself, which fires timers within Advance
                && machine.Assembly.GetName().Name is { } assembly
                && (assembly == "ChatFunctions" || assembly.StartsWith("ChatFunctions.", StringComparison.Ordinal)))
            {
                loop.Add(method);
            }
        }

        return loop;
    }

    /// <summary>The type whose code a compiler-generated state machine or closure belongs to.</summary>
    private static Type? OwnerOf(MethodBase method)
    {
        var type = method.DeclaringType;
        while (type is not null && type.Name.StartsWith('<'))
        {
            type = type.DeclaringType;
        }

        return type;
    }

    /// <summary>"ReplyPersister.PersistBatchesAsync" for the MoveNext of its state machine <c>&lt;PersistBatchesAsync&gt;d__12</c>.</summary>
    private static string NameOf(MethodBase method)
    {
        var machine = method.DeclaringType!.Name;
        var name = machine.StartsWith('<') && machine.LastIndexOf('>') is > 1 and var end ? machine[1..end] : machine;
        return $"{OwnerOf(method)?.Name}.{name}";
    }
}
