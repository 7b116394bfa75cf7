using System.Buffers;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Resumption;

/// <summary>
/// A reader of a stream produced on another instance: replays its stored log and follows it until its done frame,
/// reading just after each of the producer's beats (<see cref="FlushCadence"/>: the same clock beats on every instance),
/// as long after the beat as the producer's appends have been taking to land. It skips the frames the client already has, even ones the store has not received yet (the client may
/// have read them live from the producer). It tells the producer it is following, so the producer keeps generating
/// past its grace window, and if the log stops growing for longer than a live producer ever pauses, it ends the
/// reply itself as incomplete rather than waiting forever.
/// </summary>
public sealed class StoredStreamSource : IStreamSource
{
    private readonly IStreamLogStore _store;
    private readonly string _streamId;
    private readonly TimeProvider _time;
    private readonly FlushCadence _cadence;
    private readonly TimeSpan _markInterval;
    private readonly TimeSpan _staleAfter;
    private readonly ILogger _logger;
    private readonly ArrayBufferWriter<byte> _pending = new();
    private int _pendingRead;
    private long _storeOffset;
    private readonly int _clientFrames;
    private int _framesToSkip;
    private int _framesSeen;
    private bool _done;
    private long _lastGrowth;
    private long _lastMark;
    private string _version;
    private long _beat;
    private int _looks;
    private TimeSpan _offset;

    /// <param name="first">The first read of the log (from offset 0), which the resumer already made to decide 404/410.</param>
    /// <param name="framesToSkip">Frames the client already has (the sequence number in its Last-Event-ID).</param>
    /// <param name="flushInterval">The producer's flush interval (the same setting on every instance).</param>
    public StoredStreamSource(IStreamLogStore store, string streamId, StreamLogRead first, int framesToSkip,
        TimeProvider time, TimeSpan flushInterval, TimeSpan markInterval, TimeSpan staleAfter, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(first);
        _store = store;
        _streamId = streamId;
        _time = time;
        _cadence = new FlushCadence(flushInterval, time, streamId);
        _offset = LookStep(flushInterval);
        _version = first.State.Version;
        _beat = _cadence.Beat + 1;
        _markInterval = markInterval;
        _staleAfter = staleAfter;
        _logger = logger;
        _framesToSkip = framesToSkip;
        _clientFrames = framesToSkip;
        _lastGrowth = time.GetTimestamp();
        Take(first.Bytes.Span);
    }

    /// <summary>Frames stored when the source was made (including skipped ones).</summary>
    public int FramesSeen => _framesSeen;

    public bool IsFinished => _done && _pendingRead == _pending.WrittenCount;

    public bool TryCopy(IBufferWriter<byte> destination, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var available = _pending.WrittenCount - _pendingRead;
        if (available == 0)
        {
            return false;
        }

        var count = Math.Min(available, maxBytes);
        destination.Write(_pending.WrittenSpan.Slice(_pendingRead, count));
        _pendingRead += count;
        if (_pendingRead == _pending.WrittenCount)
        {
            _pending.ResetWrittenCount();
            _pendingRead = 0;
        }

        return true;
    }

    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (_done)
        {
            return;
        }

        // The producer appends at the start of a beat; its append lands some round trip later. Look then, and, if nothing
        // is new yet, look again a step later, at most MaxLooks times a beat (a beat with nothing new costs that many
        // cheap conditional reads). Where the bytes turn up teaches when to look next: a find on a later look moves the
        // first look later; a find on the first look moves it a little earlier, so it follows a store that speeds up.
        var due = _cadence.StartOf(_beat) + _offset + (LookStep(_cadence.Interval) * _looks);
        await _cadence.WaitUntilAsync(due, null, cancellationToken);

        if ((_lastMark == 0 || _time.GetElapsedTime(_lastMark) >= _markInterval) && _marking.IsCompleted)
        {
            // Off the poll path: a metadata write (which may retry on a busy store) must not delay the next read.
            _lastMark = _time.GetTimestamp();
            _marking = MarkReaderAsync(cancellationToken);
        }

        StreamLogTail? read;
        try
        {
            read = await _store.ReadTailAsync(_streamId, _storeOffset, _version, cancellationToken);
        }
        catch (StreamLogUnavailableException)
        {
            read = null;
        }

        if (read is not null)
        {
            _version = read.Version;
        }

        var found = read is { Bytes.Length: > 0 };
        if (found || ++_looks >= MaxLooks)
        {
            if (found)
            {
                var step = LookStep(_cadence.Interval);
                _offset = _looks == 0
                    ? (_offset > OffsetEase ? _offset - OffsetEase : TimeSpan.Zero)
                    : TimeSpan.FromTicks(Math.Min((_offset + (step * _looks)).Ticks, (_cadence.Interval / 2).Ticks));
            }

            // The next beat; one already under way (this read ran late) at once.
            _looks = 0;
            _beat = Math.Max(_beat + 1, _cadence.Beat);
        }

        if (read is { Bytes.Length: > 0 })
        {
            _lastGrowth = _time.GetTimestamp();
            Take(read.Bytes.Span);
        }
        else if (_time.GetElapsedTime(_lastGrowth) >= _staleAfter)
        {
            // The producer is gone (its instance stopped) or the store is: end the reply as cut off, numbered on.
            ResumptionLog.StoredStreamStale(_logger, (int)_staleAfter.TotalSeconds);
            using var frames = new SseFrameWriter(_pending, _streamId, Math.Max(_framesSeen, _clientFrames));
            frames.WriteError(new StreamError(StreamError.Codes.Incomplete, "The reply was cut off before it finished.", Retryable: true));
            frames.WriteDone(new StreamSummary(StreamFinishReason.Error, null, null, 0, TimeSpan.Zero, 0));
            _done = true;
        }
    }

    private Task _marking = Task.CompletedTask;

    /// <summary>Looks at the store per beat at most: the first just after the producer's append should have landed,
    /// two more a step apart for an append that took longer.</summary>
    private const int MaxLooks = 3;

    /// <summary>How much earlier the first look moves after a beat whose bytes were there at once.</summary>
    private static readonly TimeSpan OffsetEase = TimeSpan.FromMilliseconds(4);

    /// <summary>The step between looks within a beat, and the first look's start: an eighth of the interval (31 ms at the
    /// default 250 ms, a few store round trips in Azure).</summary>
    private static TimeSpan LookStep(TimeSpan interval) => interval / 8;

    private async Task MarkReaderAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _store.MarkReaderAsync(_streamId, cancellationToken);
        }
        catch (Exception ex) when (ex is StreamLogUnavailableException or OperationCanceledException)
        {
            // The producer may then stop at its grace window; the reply still ends truthfully.
        }
    }

    public void Nudge()
    {
        // Polling wakes the delivery often enough for its heartbeat.
    }

    public void Dispose()
    {
    }

    /// <summary>Takes whole frames from stored bytes: drops the ones the client has, keeps the rest to deliver.</summary>
    private void Take(ReadOnlySpan<byte> bytes)
    {
        // The producer appends whole frames only, so stored bytes always end at a frame boundary.
        _storeOffset += bytes.Length;
        while (!bytes.IsEmpty)
        {
            var end = bytes.IndexOf(SseFrameWriter.FrameEnd);
            if (end < 0)
            {
                break;
            }

            var frame = bytes[..(end + SseFrameWriter.FrameEnd.Length)];
            bytes = bytes[frame.Length..];
            _framesSeen++;
            if (SseFrameReader.IsDoneFrame(frame))
            {
                _done = true;
            }

            if (_framesToSkip > 0)
            {
                _framesToSkip--;
                continue;
            }

            _pending.Write(frame);
        }
    }
}
