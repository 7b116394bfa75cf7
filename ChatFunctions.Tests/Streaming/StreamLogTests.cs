using System.Buffers;
using ChatFunctions.Streaming;

namespace ChatFunctions.Tests.Streaming;

public class StreamLogTests
{
    [Fact]
    public void BytesAcrossManySegments_ReadBackExactly_FromAnyPosition()
    {
        var log = new StreamLog();
        var expected = new List<byte>();
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var piece = new byte[random.Next(1, 700)];
            random.NextBytes(piece);
            log.Write(piece);
            expected.AddRange(piece);
        }

        Assert.Equal(0, log.Published); // nothing is readable before it is published
        log.Publish();
        Assert.Equal(expected.Count, log.Published);
        foreach (var position in new[] { 0, 1, 2047, 2048, 2049, 100_000, expected.Count - 1 })
        {
            var copy = new ArrayBufferWriter<byte>();
            var end = log.CopyTo(position, copy);
            Assert.Equal(expected.Count, end);
            Assert.Equal(expected.Skip(position), copy.WrittenSpan.ToArray());
        }

        Assert.Equal(expected.Skip(10).Take(5000), log.Copy(10, 5010).ToArray());
    }

    private static (StreamLog Log, List<long> FrameEnds) Frames(int count, bool releasable = true)
    {
        var log = new StreamLog(releasable);
        var ends = new List<long>();
        for (var i = 0; i < count; i++)
        {
            log.Write(System.Text.Encoding.UTF8.GetBytes($"id: s:{i + 1}\ndata: {{\"chunk\":\"token {i}\"}}\n\n"));
            ends.Add(log.Written);
        }

        log.Publish();
        return (log, ends);
    }

    [Fact]
    public void Release_DropsTheSegmentsTheStoreHoldsAndEveryReaderPassed_TheRestReadsBackExactly()
    {
        var (log, ends) = Frames(3000);
        var all = log.Copy(0, log.Published).ToArray();
        using var reader = log.Attach(0);
        reader.Advance(log.Published);
        var heldBefore = log.HeldBytes;

        log.Release(ends[2499], 2500);

        Assert.Equal(ends[2499], log.Start);
        // What is held is what was not released, in whole segments of at most 4 KiB.
        Assert.InRange(log.HeldBytes, log.Published - log.Start, log.Published - log.Start + (2 * 4096));
        Assert.True(heldBefore > 4 * log.HeldBytes, $"held {log.HeldBytes} of {heldBefore} bytes after the release");
        var rest = new ArrayBufferWriter<byte>();
        Assert.Equal(log.Published, log.CopyTo(log.Start, rest));
        Assert.Equal(all[(int)ends[2499]..], rest.WrittenSpan.ToArray());
        Assert.Throws<InvalidOperationException>(() => log.Attach(0));
        Assert.Throws<InvalidOperationException>(() => log.CopyTo(ends[2499] - 1, new ArrayBufferWriter<byte>()));
        using var resumed = log.AttachAtStart(out var framesBefore);
        Assert.Equal(2500, framesBefore);
        Assert.Equal(log.Start, resumed.Position);
    }

    [Fact]
    public void Release_NeverPassesAnAttachedReader_AndCatchesUpWhenItMovesOn()
    {
        var (log, ends) = Frames(3000);
        using var fast = log.Attach(0);
        fast.Advance(log.Published);
        using var slow = log.Attach(0);
        slow.Advance(ends[999]);

        log.Release(ends[499], 500);
        log.Release(ends[1999], 2000);
        Assert.Equal(ends[499], log.Start); // the slow reader is between the two

        slow.Advance(ends[2999]);
        log.Release(ends[2999], 3000);
        Assert.Equal(ends[2999], log.Start);
        Assert.True(log.HeldBytes <= 8 * 1024, $"held {log.HeldBytes} bytes");
    }

    [Fact]
    public void Release_BeforeAnyReaderAttached_DropsNothing_SoTheClientThatAskedReadsFromTheFirstByte()
    {
        var (log, ends) = Frames(1000);

        log.Release(ends[999], 1000);

        Assert.Equal(0, log.Start);
        using var client = log.Attach(0);
        var copy = new ArrayBufferWriter<byte>();
        Assert.Equal(log.Published, log.CopyTo(0, copy));
        log.Release(ends[999], 1000); // now the reader is at 0: still nothing
        Assert.Equal(0, log.Start);
    }

    [Fact]
    public void ALogThatReleases_KeepsItsSegmentsSmall_ALogThatDoesNot_DoublesThem()
    {
        var (releasable, _) = Frames(3000);
        var (kept, _) = Frames(3000, releasable: false);

        Assert.Equal(kept.Published, releasable.Published);
        Assert.Equal(kept.Copy(0, kept.Published).ToArray(), releasable.Copy(0, releasable.Published).ToArray());
        Assert.True(releasable.HeldBytes - releasable.Published < 4 * 1024, $"{releasable.HeldBytes} held for {releasable.Published}");
    }

    [Fact]
    public void CopyTo_StopsAtTheLimitGiven()
    {
        var log = new StreamLog();
        log.Write(new byte[10_000]);
        log.Publish();
        var copy = new ArrayBufferWriter<byte>();

        Assert.Equal(3000, log.CopyTo(1000, 3000, copy));
        Assert.Equal(2000, copy.WrittenCount);
    }

    [Fact]
    public async Task ReaderWait_CompletesOnPublish_Completion_OrWake_NotBefore()
    {
        var log = new StreamLog();
        using var reader = log.Attach(0);
        var waiting = reader.WaitAsync().AsTask();
        log.Write<byte>([1, 2, 3]);
        // A wake completes the wait inside the call that wakes it (see the inline test below): none came.
        Assert.False(waiting.IsCompleted); // written, not published

        log.Publish();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(reader.WaitAsync().AsTask().IsCompleted); // bytes past its position: no wait at all

        reader.Advance(3);
        var woken = reader.WaitAsync().AsTask();
        Assert.False(woken.IsCompleted);
        reader.Wake();
        await woken.WaitAsync(TimeSpan.FromSeconds(5));

        reader.Wake(); // a wake while not waiting is kept for the next wait (a cancellation must not be lost)
        Assert.True(reader.WaitAsync().AsTask().IsCompleted);
        var completed = reader.WaitAsync().AsTask();
        Assert.False(completed.IsCompleted); // and used up once
        log.Complete();
        await completed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(log.IsCompleted);
    }

    /// <summary>A woken reader's continuation runs on the publishing thread, inside Publish: no thread-pool hop between
    /// the producer's frame and the reader's copy.</summary>
    [Fact]
    public async Task Publish_RunsTheWaitingReadersContinuation_Inline()
    {
        // Off xunit's synchronization context, like the app's continuations.
        await Task.Run(async () =>
        {
            var log = new StreamLog();
            using var first = log.Attach(0);
            using var second = log.Attach(0);
            var publishing = false;
            var ranDuringPublish = new List<bool>();
            async Task ReadOnce(StreamLog.Reader reader)
            {
                await reader.WaitAsync();
                ranDuringPublish.Add(Volatile.Read(ref publishing));
            }

            var readers = Task.WhenAll(ReadOnce(first), ReadOnce(second));
            log.Write<byte>([1]);
            Volatile.Write(ref publishing, true);
            log.Publish();
            Volatile.Write(ref publishing, false);
            await readers.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal([true, true], ranDuringPublish);
        });
    }

    /// <summary>The per-token path of one producer and one reader allocates nothing once running: the reader's wait is
    /// a reusable signal, not a task per frame (57 bytes a token before).</summary>
    [Fact]
    public async Task PublishAndWake_AllocateNothingPerFrame()
    {
        await Task.Run(async () =>
        {
            var log = new StreamLog();
            using var reader = log.Attach(0);
            var sink = new ArrayBufferWriter<byte>(1024);
            var frame = new byte[40];
            var received = 0L;
            async Task ReadAllAsync()
            {
                long position = 0;
                while (!(log.IsCompleted && position >= log.Published))
                {
                    var next = log.CopyTo(position, sink);
                    if (next == position)
                    {
                        await reader.WaitAsync();
                        continue;
                    }

                    received += next - position;
                    position = next;
                    reader.Advance(position);
                    sink.ResetWrittenCount();
                }
            }

            var reading = ReadAllAsync();
            void Produce(int frames)
            {
                for (var i = 0; i < frames; i++)
                {
                    log.Write(frame);
                    log.Publish();
                }
            }

            Produce(1_000); // segments grown, the reader's state machine boxed
            var before = GC.GetAllocatedBytesForCurrentThread();
            Produce(10_000);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            log.Complete();
            await reading.WaitAsync(TimeSpan.FromSeconds(5));

            Assert.Equal(11_000L * frame.Length, received);
            // The log's own segments grow with what is written (at most 64 KiB each): 440 KB of frames need about
            // 7 of them. Anything per frame (a task, a wake-up object) would add ≥ 10,000 × 24 bytes.
            Assert.True(allocated < 10_000 * 24 / 2 + 7 * 66_000, $"allocated {allocated} bytes for 10,000 frames");
        });
    }

    [Fact]
    public async Task WaitForReaders_WaitsWhileAnAttachedReaderIsFarBehind_AndNotForDetachedOnes()
    {
        var log = new StreamLog();
        var counts = new List<int>();
        log.ReadersChanged = counts.Add;
        var reader = log.Attach(0);
        log.Write(new byte[5000]);
        log.Publish();

        Assert.True(log.AnyReaderBehind(4096));
        var waiting = log.WaitForReadersAsync(4096, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted); // only the reader's advance or its leaving ends it, and neither happened

        reader.Advance(2000); // within 4096 of the end now
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        log.Write(new byte[10_000]);
        log.Publish();
        var again = log.WaitForReadersAsync(4096, CancellationToken.None).AsTask();
        reader.Dispose(); // a reader that leaves holds nothing back
        await again.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal([1, 0], counts);
    }

    /// <summary>
    /// A producer held back by a reader's lag and a reader waiting for new bytes must never both wait: the reader's
    /// progress and the producer's check meet under one lock. (Found as a stalled stream that heartbeats forever.)
    /// </summary>
    /// <summary>
    /// The persister's side on its own thread: it stores what is published and releases it while the producer writes
    /// and the client reads. The client still gets every byte in order, and a resume attached at the log's start at
    /// any moment starts at the frame after the ones released.
    /// </summary>
    [Fact]
    public async Task ReleasingWhileTheProducerWritesAndTheClientReads_LosesNothing_AndEveryStartIsAFrameBoundary()
    {
        var log = new StreamLog(releasable: true);
        var client = log.Attach(0);
        const int Frames = 20_000;
        var expected = new ArrayBufferWriter<byte>();
        var frameBytes = Enumerable.Range(1, Frames).Select(i => System.Text.Encoding.UTF8.GetBytes($"id: s:{i}\ndata: {{\"chunk\":\"{new string('x', i % 40)}\"}}\n\n")).ToArray();
        foreach (var frame in frameBytes)
        {
            expected.Write(frame);
        }

        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < Frames; i++)
            {
                log.Write(frameBytes[i]);
                if (i % 3 == 0)
                {
                    log.Publish();
                    await log.WaitForReadersAsync(16 * 1024, CancellationToken.None);
                }
            }

            log.Complete();
        });
        // The persister's side races the others on purpose, without waiting. It stops with the test, also when the test
        // fails first: a loop that only the log's end stops would otherwise spin on a core for the rest of the run.
        using var stop = new CancellationTokenSource();
        var persister = Task.Run(() =>
        {
            long stored = 0;
            var storedFrames = 0;
            var resumes = 0;
            while (!(log.IsCompleted && stored == log.Published) && !stop.IsCancellationRequested)
            {
                var end = log.Published;
                var batch = log.Copy(stored, end);
                storedFrames += batch.Span.Count("\n\n"u8);
                stored = end;
                log.Release(stored, storedFrames);

                using var resumed = log.AttachAtStart(out var before);
                var head = new ArrayBufferWriter<byte>();
                log.CopyTo(resumed.Position, resumed.Position + 32, head);
                var text = System.Text.Encoding.UTF8.GetString(head.WrittenSpan);
                Assert.True(head.WrittenCount == 0 || text.StartsWith($"id: s:{before + 1}\n", StringComparison.Ordinal), $"after {before} frames the log starts with {text}");
                resumes++;
            }

            return resumes;
        });
        var received = new ArrayBufferWriter<byte>();
        var consumer = Task.Run(() => ReadToTheEndAsync(log, client, received, keep: true));

        try
        {
            await consumer.WaitAsync(TimeSpan.FromSeconds(60));
            await producer.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(await persister.WaitAsync(TimeSpan.FromSeconds(10)) > 1);
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.True(expected.WrittenSpan.SequenceEqual(received.WrittenSpan), "the client's bytes differ from what was written");
        client.Dispose();
        log.Release(log.Published, Frames);
        Assert.Equal(log.Published, log.Start);
        Assert.True(log.HeldBytes <= 4 * 1024, $"held {log.HeldBytes} bytes at the end");
    }

    [Fact]
    public async Task ProducerAndReaderOnTwoThreads_NeverWaitForEachOther()
    {
        var log = new StreamLog();
        var reader = log.Attach(0);
        const int Chunks = 20_000;
        var chunk = new byte[700];
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < Chunks; i++)
            {
                log.Write(chunk);
                log.Publish();
                await log.WaitForReadersAsync(2048, CancellationToken.None);
            }

            log.Complete();
        });
        var consumer = Task.Run(() => ReadToTheEndAsync(log, reader, new ArrayBufferWriter<byte>(), keep: false));

        var read = await consumer.WaitAsync(TimeSpan.FromSeconds(60));
        await producer.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((long)Chunks * chunk.Length, read);
    }

    /// <summary>A client's loop: copy what is published, up to 1,500 bytes at a time, wait when there is nothing, until
    /// the end; returns the position reached. <paramref name="keep"/> false drops the bytes after each copy.</summary>
    private static async Task<long> ReadToTheEndAsync(StreamLog log, StreamLog.Reader reader, ArrayBufferWriter<byte> sink, bool keep)
    {
        long position = 0;
        while (!(log.IsCompleted && position >= log.Published))
        {
            var next = log.CopyTo(position, position + 1500, sink);
            if (next == position)
            {
                await reader.WaitAsync();
                continue;
            }

            position = next;
            reader.Advance(position);
            if (!keep)
            {
                sink.ResetWrittenCount();
            }
        }

        return position;
    }
}
