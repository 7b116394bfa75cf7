namespace ChatFunctions.Resumption;

/// <summary>
/// Waits for the rest of the time until an instant. <see cref="Task.Delay(TimeSpan, TimeProvider, CancellationToken)"/>
/// counts whole milliseconds and drops the rest, so a rest under a millisecond is <c>Task.Delay(0)</c>, a task already
/// complete: a loop that waits the rest and looks at the clock again would go round without ever yielding until the
/// clock passes the instant. On a clock that moves only when told (a fake one) that is never, and the loop holds its
/// thread for good (in a test, the thread that moved the clock, since a timer's continuation runs inside the move).
/// Beats fall on any tick (a stream's phase), and a timer of whole milliseconds fires up to one early, so such a rest
/// is the ordinary end of a wait, not a corner.
/// </summary>
internal static class ClockDelay
{
    private static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(1);

    /// <summary>A delay for <paramref name="rest"/>, the shortest timer (a millisecond) when it is less than that: the
    /// caller looks at the clock again and waits what is left, so it may end up to a millisecond late, never spin.</summary>
    public static Task ForAsync(TimeSpan rest, TimeProvider time, CancellationToken cancellationToken) =>
        Task.Delay(rest > TimeSpan.Zero && rest < Shortest ? Shortest : rest, time, cancellationToken);
}
