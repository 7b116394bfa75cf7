using System.Diagnostics;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// How late this process's timers and thread pool run while a test times something: a loop of short delays beside the
/// timed window, each one timed. What a loaded machine does to the code under test in this process (a timer that fires
/// late, a continuation that waits for a thread), it does to this loop too, so a timing bound grows by what the loop saw
/// rather than by a guess. On a quiet machine it sees a millisecond or two.
/// </summary>
public sealed class LatenessProbe : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _maxLateTicks;

    private LatenessProbe() => _loop = Task.Run(LoopAsync);

    /// <summary>The most one short delay overslept since the probe started.</summary>
    public TimeSpan MaxLateness => TimeSpan.FromTicks(Interlocked.Read(ref _maxLateTicks));

    public static LatenessProbe Start() => new();

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await Task.Delay(Interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var late = (Stopwatch.GetElapsedTime(started) - Interval).Ticks;
            long seen;
            while (late > (seen = Interlocked.Read(ref _maxLateTicks)) && Interlocked.CompareExchange(ref _maxLateTicks, late, seen) != seen)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
