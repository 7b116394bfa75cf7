using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
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
        using var source = new LiveLogSource(log, 0);
        var delivery = new StreamDelivery(time, Heartbeat, Stall, () => { });
        var running = delivery.RunAsync(source, pipe.Writer, CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(10));
        WriteFrame(log, "x");
        Assert.DoesNotContain("keep-alive", await ReadAvailableAsync(pipe.Reader), StringComparison.Ordinal);
        time.Advance(TimeSpan.FromSeconds(11)); // 21 s since the start, 11 s since the frame
        await Task.Delay(50);
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
        await Task.Delay(50);
        time.Advance(Stall - TimeSpan.FromSeconds(8));
        await Task.Delay(50);
        Assert.False(running.IsCompleted);
        Assert.Equal(0, aborted);

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
            await Task.Delay(50); // the delivery copies the frame and waits on the full pipe
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
