using System.Buffers;
using System.Threading.Tasks.Sources;

namespace ChatFunctions.Streaming;

/// <summary>
/// One stream's SSE bytes in memory, in order, exactly as clients receive them. Its producer formats frames straight
/// into it (it is the <see cref="IBufferWriter{T}"/> the frame writer writes to) and publishes them; any number of
/// readers (the client that asked, and clients that resume) copy published bytes from their own position and wait
/// for more. Bytes are never moved once written (segments are added, and dropped only once released), so a reader copies them once, into
/// its response pipe. A published frame wakes its waiting readers on the publishing thread (<see cref="Reader"/>).
/// </summary>
/// <remarks>
/// Backpressure: the producer calls <see cref="WaitForReadersAsync"/> before it reads the model again, which waits
/// while an attached reader is more than the high-water mark behind, so a client that reads slowly slows the model
/// read instead of growing memory. A reader that never catches up is detached by its stall timeout.
/// <para>
/// Release: when a shared store holds the log too, what it holds and every attached reader has passed is dropped
/// (<see cref="Release"/>), so a long reply holds a few KiB here, not all of itself. Bytes before <see cref="Start"/>
/// are then read from the store (a resume from an early frame).
/// </para>
/// </remarks>
public sealed class StreamLog : IBufferWriter<byte>
{
    private const int FirstSegmentSize = 2 * 1024;
    private const int LargestSegmentSize = 64 * 1024;

    /// <summary>A log that releases keeps its segments small: released memory is whole segments behind the readers.</summary>
    private const int LargestReleasableSegmentSize = 4 * 1024;

    private readonly object _sync = new();
    private readonly List<Segment> _segments = [];
    private readonly List<Reader> _readers = [];
    private readonly int _largestSegmentSize;
    private Segment? _tail;
    private long _written;
    private long _published;
    private bool _completed;
    private TaskCompletionSource? _progressed;

    // Under the lock: where the store's copy ends (appends not yet released) and what was released.
    private readonly Queue<(long Position, int Frames)> _stored = new();
    private long _start;
    private int _framesBeforeStart;
    private bool _readerAttached;

    /// <param name="releasable">Whether a store will hold the log too, so that <see cref="Release"/> may drop what
    /// it holds (smaller segments).</param>
    public StreamLog(bool releasable = false)
    {
        _largestSegmentSize = releasable ? LargestReleasableSegmentSize : LargestSegmentSize;
    }

    /// <summary>The capacity of the segments held (what the log costs in memory now).</summary>
    internal long HeldBytes
    {
        get
        {
            lock (_sync)
            {
                return _segments.Sum(segment => (long)segment.Buffer.Length);
            }
        }
    }

    /// <summary>The first byte still held here; the bytes before it were released (the store holds them).</summary>
    public long Start
    {
        get
        {
            lock (_sync)
            {
                return _start;
            }
        }
    }

    /// <summary>Called with the number of attached readers whenever a reader attaches or detaches.</summary>
    public Action<int>? ReadersChanged { get; set; }

    /// <summary>Bytes written by the producer, published or not.</summary>
    public long Written => _written;

    /// <summary>Bytes readers may read.</summary>
    public long Published => Volatile.Read(ref _published);

    /// <summary>Whether the producer has written its last frame and published it.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed);

    public int ReaderCount
    {
        get
        {
            lock (_sync)
            {
                return _readers.Count;
            }
        }
    }

    // --- producer side (one producer, one thread at a time) ---

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_tail is null || _tail.Buffer.Length - _tail.Used < needed)
        {
            var size = _tail is null ? FirstSegmentSize : Math.Min(_tail.Buffer.Length * 2, _largestSegmentSize);
            var segment = new Segment(new byte[Math.Max(size, needed)], _written);
            lock (_sync)
            {
                _segments.Add(segment);
            }

            _tail = segment;
        }

        return _tail.Buffer.AsMemory(_tail.Used);
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_tail is null || _tail.Used + count > _tail.Buffer.Length)
        {
            throw new InvalidOperationException("Advanced past the memory handed out.");
        }

        _tail.Used += count;
        _written += count;
    }

    /// <summary>Makes everything written so far readable and wakes waiting readers.</summary>
    public void Publish()
    {
        Reader? first;
        List<Reader>? others;
        lock (_sync)
        {
            if (_published == _written)
            {
                return;
            }

            Volatile.Write(ref _published, _written);
            first = TakeWaitingReaders(out others);
        }

        Signal(first, others);
    }

    /// <summary>Publishes the last frames: readers that reach the end stop.</summary>
    public void Complete()
    {
        Reader? first;
        List<Reader>? others;
        lock (_sync)
        {
            Volatile.Write(ref _published, _written);
            Volatile.Write(ref _completed, true);
            first = TakeWaitingReaders(out others);
        }

        Signal(first, others);
    }

    /// <summary>Under the lock: the readers waiting for bytes, no longer marked waiting. Usually there is one reader
    /// (the client that asked), so no list is allocated for it.</summary>
    private Reader? TakeWaitingReaders(out List<Reader>? others)
    {
        Reader? first = null;
        others = null;
        foreach (var reader in _readers)
        {
            if (!reader.TakeWaiting())
            {
                continue;
            }

            if (first is null)
            {
                first = reader;
            }
            else
            {
                (others ??= []).Add(reader);
            }
        }

        return first;
    }

    /// <summary>Outside the lock: a woken reader's continuation runs here, on the publishing thread (see
    /// <see cref="Reader.WaitAsync"/>).</summary>
    private static void Signal(Reader? first, List<Reader>? others)
    {
        first?.Signal();
        if (others is not null)
        {
            foreach (var reader in others)
            {
                reader.Signal();
            }
        }
    }

    /// <summary>Waits while an attached reader is more than <paramref name="highWaterBytes"/> behind what is published.</summary>
    public async ValueTask WaitForReadersAsync(long highWaterBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task progressed;
            lock (_sync)
            {
                if (!AnyReaderBehindPosition(Volatile.Read(ref _published) - highWaterBytes))
                {
                    return;
                }

                _progressed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                progressed = _progressed.Task;
            }

            await progressed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Records that the store holds everything before <paramref name="storedEnd"/> (the end of a whole frame, the
    /// <paramref name="frames"/>th), then drops the segments that lie wholly before the latest such end every attached
    /// reader has passed. Nothing is dropped before a reader has attached (the client that asked attaches at 0).
    /// </summary>
    public void Release(long storedEnd, int frames)
    {
        lock (_sync)
        {
            _stored.Enqueue((storedEnd, frames));
            if (!_readerAttached)
            {
                return;
            }

            var behind = long.MaxValue;
            foreach (var reader in _readers)
            {
                behind = Math.Min(behind, reader.Position);
            }

            var released = false;
            while (_stored.TryPeek(out var stored) && stored.Position <= behind)
            {
                _stored.Dequeue();
                (_start, _framesBeforeStart) = (stored.Position, stored.Frames);
                released = true;
            }

            if (!released)
            {
                return;
            }

            // The tail segment stays: the producer writes into it without the lock.
            var drop = 0;
            while (drop < _segments.Count - 1 && _segments[drop].Start + _segments[drop].Used <= _start)
            {
                drop++;
            }

            _segments.RemoveRange(0, drop);
        }
    }

    /// <summary>Whether an attached reader is more than <paramref name="highWaterBytes"/> behind what was written.</summary>
    public bool AnyReaderBehind(long highWaterBytes)
    {
        lock (_sync)
        {
            return AnyReaderBehindPosition(_written - highWaterBytes);
        }
    }

    private bool AnyReaderBehindPosition(long position)
    {
        foreach (var reader in _readers)
        {
            if (reader.Position < position)
            {
                return true;
            }
        }

        return false;
    }

    // --- reader side ---

    /// <summary>Attaches a reader at <paramref name="position"/>; the producer waits for attached readers that fall behind.</summary>
    /// <exception cref="InvalidOperationException">The bytes at <paramref name="position"/> were released.</exception>
    public Reader Attach(long position)
    {
        var reader = new Reader(this, position);
        int count;
        lock (_sync)
        {
            if (position < _start)
            {
                throw new InvalidOperationException("The log's bytes at this position were released to the store.");
            }

            _readers.Add(reader);
            _readerAttached = true;
            count = _readers.Count;
        }

        ReadersChanged?.Invoke(count);
        return reader;
    }

    /// <summary>Attaches a reader at <see cref="Start"/>, which holds it there (nothing more is released until the reader
    /// moves on); <paramref name="framesBefore"/> is the number of frames released before it.</summary>
    public Reader AttachAtStart(out int framesBefore)
    {
        Reader reader;
        int count;
        lock (_sync)
        {
            reader = new Reader(this, _start);
            framesBefore = _framesBeforeStart;
            _readers.Add(reader);
            _readerAttached = true;
            count = _readers.Count;
        }

        ReadersChanged?.Invoke(count);
        return reader;
    }

    private void Detach(Reader reader)
    {
        int count;
        lock (_sync)
        {
            if (!_readers.Remove(reader))
            {
                return;
            }

            count = _readers.Count;
        }

        SignalProgress();
        ReadersChanged?.Invoke(count);
    }

    private void SignalProgress()
    {
        TaskCompletionSource? progressed;
        lock (_sync)
        {
            progressed = _progressed;
            _progressed = null;
        }

        progressed?.TrySetResult();
    }

    /// <summary>Copies published bytes from <paramref name="position"/> into <paramref name="destination"/>; returns the new position.</summary>
    public long CopyTo(long position, IBufferWriter<byte> destination) => CopyTo(position, long.MaxValue, destination);

    /// <summary>Copies published bytes from <paramref name="position"/> up to <paramref name="end"/>; returns the new position.</summary>
    public long CopyTo(long position, long end, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        end = Math.Min(end, Published);
        if (position >= end)
        {
            return position;
        }

        lock (_sync)
        {
            if (position < _start)
            {
                throw new InvalidOperationException("The log's bytes at this position were released to the store.");
            }

            foreach (var segment in _segments)
            {
                // A segment holds [Start, Start + Used): a frame that did not fit started the next one.
                var segmentEnd = Math.Min(end, segment.Start + segment.Used);
                if (segmentEnd <= position)
                {
                    continue;
                }

                if (segment.Start >= end)
                {
                    break;
                }

                var from = (int)(position - segment.Start);
                destination.Write(segment.Buffer.AsSpan(from, (int)(segmentEnd - position)));
                position = segmentEnd;
            }
        }

        return position;
    }

    /// <summary>Published bytes in [<paramref name="position"/>, <paramref name="end"/>), copied once into new memory:
    /// for storage batches and replays, not the per-token path.</summary>
    public ReadOnlyMemory<byte> Copy(long position, long end)
    {
        var buffer = new ArrayBufferWriter<byte>((int)Math.Max(1, Math.Min(end, Published) - position));
        CopyTo(position, end, buffer);
        return buffer.WrittenMemory;
    }

    private sealed class Segment(byte[] buffer, long start)
    {
        public byte[] Buffer { get; } = buffer;
        public long Start { get; } = start;
        public int Used { get; set; }
    }

    /// <summary>A reader's place in the log, which the producer's backpressure looks at, and its wake-up.</summary>
    /// <remarks>
    /// The wake-up is one reusable signal per reader, completed without a thread hop: the reader's continuation (copy
    /// into its response pipe, flush) runs on the thread that published, usually the producer's right after it wrote
    /// the frame. That saves a thread-pool hop and an allocation per token (docs/benchmarks-history.md "Reader wake-ups").
    /// A reader's continuation must therefore never block; it only copies and starts a flush.
    /// </remarks>
    public sealed class Reader : IDisposable, IValueTaskSource
    {
        private readonly StreamLog _log;
        private long _position;
        private ManualResetValueTaskSourceCore<bool> _signal; // mutable struct: never readonly
        private bool _waiting; // under the log's lock
        private bool _woken; // a Wake that came while the reader was not waiting; under the log's lock

        internal Reader(StreamLog log, long position)
        {
            _log = log;
            _position = position;
        }

        public long Position => Volatile.Read(ref _position);

        /// <summary>Records that the reader has taken the bytes up to <paramref name="position"/>.</summary>
        public void Advance(long position)
        {
            // Under the log's lock, like the producer's check: a position written outside it could be missed by a
            // producer that then waits for a progress signal this reader saw no reason to send (both would wait).
            TaskCompletionSource? progressed;
            lock (_log._sync)
            {
                _position = position;
                progressed = _log._progressed;
                _log._progressed = null;
            }

            progressed?.TrySetResult();
        }

        /// <summary>Completes when bytes past <see cref="Position"/> are published, the log completes, or
        /// <see cref="Wake"/> is called (also if it was called since the last wait). One wait at a time.</summary>
        public ValueTask WaitAsync()
        {
            lock (_log._sync)
            {
                if (_log._published > _position || _log._completed || _woken)
                {
                    _woken = false;
                    return ValueTask.CompletedTask;
                }

                _signal.Reset();
                _waiting = true;
                return new ValueTask(this, _signal.Version);
            }
        }

        /// <summary>Ends the current or the next wait without new bytes (a heartbeat check, a cancelled request).</summary>
        public void Wake()
        {
            lock (_log._sync)
            {
                if (!_waiting)
                {
                    _woken = true;
                    return;
                }

                _waiting = false;
            }

            _signal.SetResult(true);
        }

        internal bool TakeWaiting()
        {
            var waiting = _waiting;
            _waiting = false;
            return waiting;
        }

        internal void Signal() => _signal.SetResult(true);

        void IValueTaskSource.GetResult(short token) => _signal.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _signal.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _signal.OnCompleted(continuation, state, token, flags);

        public void Dispose() => _log.Detach(this);
    }
}
