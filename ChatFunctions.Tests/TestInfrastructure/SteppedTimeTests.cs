namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>The fake clock's steps: a step returns once the loops it woke wait again, whatever else arms timers meanwhile.</summary>
public class SteppedTimeTests
{
    private static readonly TimeSpan Beat = TimeSpan.FromMilliseconds(250);

    /// <summary>A loop on the clock's beats, which after each beat does <paramref name="work"/> before it waits again.</summary>
    private static async Task BeatsAsync(TimeProvider time, Func<Task> work, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(Beat, time, cancellationToken);
                await work();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [Fact]
    public async Task AStep_WaitsForTheLoopItWoke_NotForTimersOtherCodeArmsMeanwhile()
    {
        var time = new SteppedTime();
        var working = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var loop = BeatsAsync(time, () => { working.TrySetResult(); return done.Task; }, stop.Token);

        // A sweep that comes due in the same step and starts two waits of its own, as a store's sweep or a relay's
        // retry might: as many timers armed as fired, none of them the loop's.
        using var sweep = time.CreateTimer(_ =>
        {
            _ = Task.Delay(TimeSpan.FromHours(1), time, stop.Token);
            _ = Task.Delay(TimeSpan.FromHours(1), time, stop.Token);
        }, null, Beat, Beat);

        var step = time.AdvanceAsync(Beat);
        await working.Task.WaitAsync(SteppedTime.StepBound); // the loop woke and works on its beat
        Assert.False(step.IsCompleted, "the step returned while the loop it woke was still working on its beat");

        done.SetResult();
        await step.WaitAsync(SteppedTime.StepBound);

        await stop.CancelAsync();
        await loop.WaitAsync(SteppedTime.StepBound);
    }

    [Fact]
    public async Task AStep_WaitsForEachLoopItWoke_TwoWokenLoopsOfTheSameCodeNeedTwoNewWaits()
    {
        var time = new SteppedTime();
        var secondBeat = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var beats = 0;
        using var stop = new CancellationTokenSource();
        var quick = BeatsAsync(time, () => Task.CompletedTask, stop.Token);
        var held = BeatsAsync(time, () =>
        {
            if (Interlocked.Increment(ref beats) < 2)
            {
                return Task.CompletedTask;
            }

            secondBeat.TrySetResult();
            return release.Task;
        }, stop.Token);

        var first = time.AdvanceAsync(Beat); // both beat and wait again
        await first.WaitAsync(SteppedTime.StepBound);

        var step = time.AdvanceAsync(Beat);
        await secondBeat.Task.WaitAsync(SteppedTime.StepBound);
        // The quick loop may wait again any moment: one new wait from this code is not two.
        Assert.False(step.IsCompleted, "the step returned while one of the loops it woke was still working on its beat");

        release.SetResult();
        await step.WaitAsync(SteppedTime.StepBound);

        await stop.CancelAsync();
        await Task.WhenAll(quick, held).WaitAsync(SteppedTime.StepBound);
    }
}
