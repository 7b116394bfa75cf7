using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.Streaming;

public class StreamDeliveryTests
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(30);

    private static void WriteFrame(StreamLog log, string text)
    {
        log.Write(Encoding.UTF8.GetBytes($"id: x:1\ndata: {{\"chunk\":\"{text}\"}}\n\n"));
        log.Publish();
    }

    private static async Task<string> ReadAvailableAsync(PipeReader reader)
    {
        var read = await reader.ReadAsync();
        var text = Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(read.Buffer));
        reader.AdvanceTo(read.Buffer.End);
        return text;
    }

    /// <summary>Waits until the delivery has flushed bytes the client has not read: its flush has started (it marks
    /// the start before committing), and with a pipe that refuses more it is waiting on the client.</summary>
    private static async Task WaitForUnreadAsync(PipeReader reader)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (reader.TryRead(out var read))
            {
                var any = !read.Buffer.IsEmpty;
                reader.AdvanceTo(read.Buffer.Start);
                if (any)
                {
                    return;
                }
            }

            Assert.True(clock.Elapsed < SteppedTime.StepBound, "the delivery never flushed the frame");
            await Task.Delay(Poll.StepInterval);
        }
    }

    /// <summary>Waits until <paramref name="source"/> has been waited on more than <paramref name="waits"/> times: the
    /// delivery has done everything it had to and sleeps until the log grows or its timer nudges it.</summary>
    private static async Task WaitUntilIdleAsync(WatchedSource source, int waits)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref source.Waits) <= waits)
        {
            Assert.True(clock.Elapsed < SteppedTime.StepBound, "the delivery never went back to waiting");
            await Task.Delay(Poll.StepInterval);
        }
    }

    /// <summary>A source that counts the delivery's waits and its timer's nudges (the only thing that wakes an idle
    /// delivery when the log does not grow).</summary>
    private sealed class WatchedSource(IStreamSource inner) : IStreamSource
    {
        public int Waits;
        public int Nudges;

        public bool IsFinished => inner.IsFinished;

        public bool TryCopy(IBufferWriter<byte> destination, int maxBytes) => inner.TryCopy(destination, maxBytes);

        public ValueTask WaitAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Waits);
            return inner.WaitAsync(cancellationToken);
        }

        public void Nudge()
        {
            Interlocked.Increment(ref Nudges);
            inner.Nudge();
        }

        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public async Task DeliversPublishedFrames_AndFinishesAtTheLogsEnd()
    {
        var log = new StreamLog();
        var pipe = new Pipe();
        using var source = new LiveLogSource(log, 0);
        var delivery = new StreamDelivery(TimeProvider.System, Heartbeat, Stall, () => { });

        var running = delivery.RunAsync(source, pipe.Writer, CancellationToken.None);
        WriteFrame(log, "a");
        Assert.Contains("\"a\"", await ReadAvailableAsync(pipe.Reader), StringComparison.Ordinal);
        WriteFrame(log, "b");
        log.Complete();

        Assert.Equal(DeliveryEnd.Finished, await running.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("\"b\"", await ReadAvailableAsync(pipe.Reader), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_IsWrittenAfterTheIntervalWithoutFrames_AndPostponedByFrames()
    {
        var time = new FakeTimeProvider();
        var log = new StreamLog();
        var pipe = new Pipe();
        using var source = new WatchedSource(new LiveLogSource(log, 0));
        var delivery = new StreamDelivery(time, Heartbeat, Stall, () => { });
        var running = delivery.RunAsync(source, pipe.Writer, CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(10));
        var waits = Volatile.Read(ref source.Waits);
        WriteFrame(log, "x");
        Assert.DoesNotContain("keep-alive", await ReadAvailableAsync(pipe.Reader), StringComparison.Ordinal);
        await WaitUntilIdleAsync(source, waits); // the frame's write is done and counted as the last write
        var nudges = Volatile.Read(ref source.Nudges);
        time.Advance(TimeSpan.FromSeconds(11)); // 21 s since the start, 11 s since the frame
        // The timer runs within Advance and is all that could wake the idle delivery: it did not, so nothing was written.
        Assert.Equal(nudges, Volatile.Read(ref source.Nudges));
        Assert.False(pipe.Reader.TryRead(out _));

        time.Advance(TimeSpan.FromSeconds(4)); // 15 s since the frame
        Assert.Equal(": keep-alive\n\n", await ReadAvailableAsync(pipe.Reader).WaitAsync(TimeSpan.FromSeconds(10)));

        log.Complete();
        Assert.Equal(DeliveryEnd.Finished, await running.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task ClientThatAcceptsNothingForTheStallTimeout_IsDropped()
    {
        var time = new FakeTimeProvider();
        var log = new StreamLog();
        // A client that reads nothing: the pipe refuses more once 64 bytes wait.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64, resumeWriterThreshold: 32, useSynchronizationContext: false));
        var aborted = 0;
        using var source = new LiveLogSource(log, 0);
        var delivery = new StreamDelivery(time, Heartbeat, Stall, () => Interlocked.Increment(ref aborted));
        var running = delivery.RunAsync(source, pipe.Writer, CancellationToken.None);

        WriteFrame(log, new string('z', 200));
        await WaitForUnreadAsync(pipe.Reader); // the delivery is waiting on the full pipe: the stall counts from here
        time.Advance(Stall - TimeSpan.FromSeconds(8));
        // The timer runs within Advance and drops a stalled client there: it did not, so the delivery still waits.
        Assert.Equal(0, aborted);
        Assert.False(running.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(16)); // past the stall timeout by more than a timer tick
        Assert.Equal(DeliveryEnd.Stalled, await running.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, aborted);
    }

    [Fact]
    public async Task SlowButLiveClient_IsNotDropped()
    {
        var time = new FakeTimeProvider();
        var log = new StreamLog();
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64, resumeWriterThreshold: 32, useSynchronizationContext: false));
        using var source = new LiveLogSource(log, 0);
        var dropped = 0;
        var delivery = new StreamDelivery(time, Heartbeat, Stall, () => Interlocked.Increment(ref dropped));
        var running = delivery.RunAsync(source, pipe.Writer, CancellationToken.None);

        for (var i = 0; i < 5; i++)
        {
            WriteFrame(log, new string('z', 100));
            await WaitForUnreadAsync(pipe.Reader); // the delivery copied the frame and waits on the full pipe
            time.Advance(TimeSpan.FromSeconds(20)); // slower than anyone would like, yet it reads within the timeout
            await ReadAvailableAsync(pipe.Reader).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, dropped);
        }

        log.Complete();
        Assert.Equal(DeliveryEnd.Finished, await running.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, dropped);
    }

    [Fact]
    public async Task ClientLeaving_EndsTheDelivery_AndDetachesItsReader()
    {
        var log = new StreamLog();
        var pipe = new Pipe();
        using var cts = new CancellationTokenSource();
        var source = new LiveLogSource(log, 0);
        var delivery = new StreamDelivery(TimeProvider.System, Heartbeat, Stall, () => { });
        var running = delivery.RunAsync(source, pipe.Writer, cts.Token);
        Assert.Equal(1, log.ReaderCount);

        await cts.CancelAsync();
        Assert.Equal(DeliveryEnd.ClientGone, await running.WaitAsync(TimeSpan.FromSeconds(10)));
        source.Dispose();
        Assert.Equal(0, log.ReaderCount);
    }

    [Fact]
    public async Task ResumeFromAPosition_DeliversOnlyWhatFollows()
    {
        var log = new StreamLog();
        WriteFrame(log, "first");
        var position = log.Published;
        WriteFrame(log, "second");
        log.Complete();
        var pipe = new Pipe();
        using var source = new LiveLogSource(log, position);

        var end = await new StreamDelivery(TimeProvider.System, Heartbeat, Stall, () => { }).RunAsync(source, pipe.Writer, CancellationToken.None);

        Assert.Equal(DeliveryEnd.Finished, end);
        var text = await ReadAvailableAsync(pipe.Reader);
        Assert.DoesNotContain("first", text, StringComparison.Ordinal);
        Assert.Contains("second", text, StringComparison.Ordinal);
    }
}
