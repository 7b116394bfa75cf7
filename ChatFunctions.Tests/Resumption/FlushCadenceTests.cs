using ChatFunctions.Resumption;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.Resumption;

public class FlushCadenceTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    [Fact]
    public void A_streams_beats_are_the_same_on_every_instance_and_streams_are_spread_over_the_interval()
    {
        var time = new FakeTimeProvider();
        var ids = Enumerable.Range(0, 64).Select(_ => StreamLogStoreContract.NewStreamId()).ToArray();

        foreach (var id in ids)
        {
            // Another process builds its own cadence from the id alone and lands on the same instants.
            var here = new FlushCadence(Interval, time, id);
            var there = new FlushCadence(Interval, new FakeTimeProvider(time.GetUtcNow()), id);
            Assert.Equal(here.StartOf(here.Beat + 1), there.StartOf(there.Beat + 1));
            Assert.InRange(here.Phase, TimeSpan.Zero, Interval - TimeSpan.FromTicks(1));
            Assert.True(here.StartOf(here.Beat) <= time.GetUtcNow() && time.GetUtcNow() < here.StartOf(here.Beat + 1));
        }

        // 64 random ids over the interval's eighths: not all on one instant (as without a phase they would be).
        var eighths = ids.Select(id => new FlushCadence(Interval, time, id).Phase / (Interval / 8)).Select(e => (int)e).Distinct().Count();
        Assert.True(eighths >= 4, $"{eighths} of 8 eighths used");
    }

    [Fact]
    public async Task A_rest_of_part_of_a_millisecond_is_waited_on_a_timer_not_by_going_round_without_yielding()
    {
        // Beats fall on any tick (the phase) and Task.Delay counts whole milliseconds: 10.5 ms before a beat, a wait of
        // 10 ms and then Task.Delay(0), done at once, over and over, would hold its thread until the clock moved on.
        var time = new SteppedTime();
        var cadence = new FlushCadence(Interval, time);
        var due = time.GetUtcNow() + TimeSpan.FromTicks((10 * TimeSpan.TicksPerMillisecond) + (TimeSpan.TicksPerMillisecond / 2));
        var mark = time.Now();
        using var stop = new CancellationTokenSource();
        var waiting = Task.Run(() => cadence.WaitUntilAsync(due, interrupt: null, stop.Token));
        try
        {
            await time.WaitForTimersAsync(mark, 1, t => t.IsArmedBy<FlushCadence>());

            // The step moves the clock on a thread of its own and a fired timer's continuation runs inside the move: a
            // wait that never yields holds that thread, and the bound fails the test instead of hanging it. Otherwise
            // the step returns once the woken wait is waiting again, on a timer of its own, not going round.
            await time.AdvanceAsync(TimeSpan.FromMilliseconds(10), until: () => waiting.IsCompleted).WaitAsync(SteppedTime.StepBound * 2);
            Assert.False(waiting.IsCompleted, "the wait ended before its instant");

            await time.AdvanceAsync(TimeSpan.FromMilliseconds(1), until: () => waiting.IsCompleted);
            await waiting.WaitAsync(SteppedTime.StepBound);
            Assert.True(time.GetUtcNow() >= due);
        }
        finally
        {
            // A cancelled delay throws: this ends a wait that went round without yielding, so a failure does not leave it
            // holding a core for the rest of the run.
            await stop.CancelAsync();
        }
    }
}
