namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// The pauses of a test that waits for something the code under test does on its own (on the thread pool, in another
/// process, in Azurite): it looks, and if not yet, looks again after one of these, within an overall bound that only
/// ends a test that would hang. They pace the looking; no test relies on what happens during one.
/// </summary>
public static class Poll
{
    /// <summary>Between looks at in-process state (a counter, a log, a socket table): short beside what the tests wait
    /// for (a frame, a timer, a round trip), so it adds little to what a test times.</summary>
    public static readonly TimeSpan StateInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Between looks at what a fake-clock test stepped (a woken loop waiting again): such a test takes many
    /// steps, each over in microseconds on an idle machine.</summary>
    public static readonly TimeSpan StepInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>Between looks that are themselves requests (HTTP to the app, a read of the store): each one costs the
    /// server a request, on a machine that is busy already.</summary>
    public static readonly TimeSpan RequestInterval = TimeSpan.FromMilliseconds(100);
}
