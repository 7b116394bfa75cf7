using System.Buffers;
using System.IO.Pipelines;

namespace ChatFunctions.Streaming;

/// <summary>How a client's delivery ended.</summary>
public enum DeliveryEnd
{
    /// <summary>The client received the stream's last frame.</summary>
    Finished,

    /// <summary>The client went away (connection closed or request aborted).</summary>
    ClientGone,

    /// <summary>The client accepted nothing for the stall timeout and was dropped.</summary>
    Stalled,
}

/// <summary>
/// Delivers one stream to one client: copies frames from its source into the response pipe and flushes them,
/// writes an SSE comment heartbeat when nothing was sent for a while, and drops a client whose pipe accepted
/// nothing for the stall timeout. This loop is the only writer to the response, so frames and heartbeats never interleave.
/// </summary>
public sealed class StreamDelivery
{
    /// <summary>At most this much is copied into the response pipe before it is flushed (a long replay goes out in
    /// pieces, and Kestrel's own pause threshold applies backpressure between them).</summary>
    public const int MaxBytesPerWrite = 32 * 1024;

    private readonly TimeProvider _time;
    private readonly TimeSpan _heartbeat;
    private readonly TimeSpan _stallTimeout;
    private readonly Action _abortConnection;
    private long _lastWrite;
    private long _flushStarted;
    private int _stalled;

    /// <param name="abortConnection">Closes the client's connection (used when it stalls).</param>
    public StreamDelivery(TimeProvider time, TimeSpan heartbeat, TimeSpan stallTimeout, Action abortConnection)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(abortConnection);
        _time = time;
        _heartbeat = heartbeat;
        _stallTimeout = stallTimeout;
        _abortConnection = abortConnection;
    }

    public async Task<DeliveryEnd> RunAsync(IStreamSource source, PipeWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(output);
        _lastWrite = _time.GetTimestamp();
        var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 50, Math.Min(_heartbeat.Ticks, _stallTimeout.Ticks) / 4));
        await using var timer = _time.CreateTimer(static state => ((TimerState)state!).Tick(), new TimerState(this, source, output), tick, tick);
        // A cancelled request ends the wait through the source's nudge: one registration here, none per wait.
        await using var cancelled = cancellationToken.UnsafeRegister(static state => ((IStreamSource)state!).Nudge(), source);
        try
        {
            while (true)
            {
                if (source.TryCopy(output, MaxBytesPerWrite))
                {
                    if (!await FlushAsync(output, cancellationToken))
                    {
                        return End();
                    }

                    continue;
                }

                if (source.IsFinished)
                {
                    return DeliveryEnd.Finished;
                }

                if (_time.GetElapsedTime(Volatile.Read(ref _lastWrite)) >= _heartbeat)
                {
                    output.Write(SseFrameWriter.Heartbeat);
                    if (!await FlushAsync(output, cancellationToken))
                    {
                        return End();
                    }
                }

                await source.WaitAsync(cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || Volatile.Read(ref _stalled) == 1)
        {
            return End();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection failed under the write (reset, or the server completed the response).
            return End();
        }
    }

    private DeliveryEnd End() => Volatile.Read(ref _stalled) == 1 ? DeliveryEnd.Stalled : DeliveryEnd.ClientGone;

    /// <summary>False when the client is gone or was dropped.</summary>
    private async ValueTask<bool> FlushAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _flushStarted, _time.GetTimestamp());
        var result = await output.FlushAsync(cancellationToken);
        Volatile.Write(ref _flushStarted, 0);
        Volatile.Write(ref _lastWrite, _time.GetTimestamp());
        return !(result.IsCanceled || result.IsCompleted) && Volatile.Read(ref _stalled) == 0;
    }

    private sealed class TimerState(StreamDelivery delivery, IStreamSource source, PipeWriter output)
    {
        public void Tick()
        {
            var flushStarted = Volatile.Read(ref delivery._flushStarted);
            if (flushStarted != 0 && delivery._time.GetElapsedTime(flushStarted) >= delivery._stallTimeout)
            {
                // The client's pipe has refused bytes for the whole stall timeout: drop it, so its resources and
                // (without resumable streams) its model call end instead of waiting forever.
                if (Interlocked.Exchange(ref delivery._stalled, 1) == 0)
                {
                    output.CancelPendingFlush();
                    delivery._abortConnection();
                }

                return;
            }

            if (flushStarted == 0 && delivery._time.GetElapsedTime(Volatile.Read(ref delivery._lastWrite)) >= delivery._heartbeat)
            {
                source.Nudge();
            }
        }
    }
}
