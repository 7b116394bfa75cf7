using System.Collections.Concurrent;
using System.Globalization;

namespace ChatFunctions.Resumption;

/// <summary>
/// Stream logs in this process's memory, for the standalone host without storage: the same semantics as the blob
/// store (conditional appends, metadata-like state), seen by this instance only.
/// </summary>
/// <remarks>
/// Memory is bounded twice: a log is swept once it is older than the retention (checked every
/// <see cref="SweepInterval"/>, so it lives at most retention + 1 minute), and all logs together hold at most
/// <c>maxTotalBytes</c> of frames (default 256 MiB; buffers may hold up to twice that while they grow) plus about
/// 200 bytes per log. An append past the bound fails with <see cref="StreamLogUnavailableException"/>: that stream
/// stops being resumable, nothing else is affected.
/// </remarks>
public sealed class InMemoryStreamLogStore : IStreamLogStore, IDisposable
{
    public const long DefaultMaxTotalBytes = 256L * 1024 * 1024;

    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Log> _logs = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _retention;
    private readonly long _maxTotalBytes;
    private readonly ITimer _sweeper;
    private long _totalBytes;

    /// <param name="timeProvider">Stamps the state and drives the sweep.</param>
    /// <param name="retention">How long after its creation a log is kept (CHAT_RESUME_RETENTION_MINUTES).</param>
    /// <param name="maxTotalBytes">The most frame bytes all logs together may hold.</param>
    public InMemoryStreamLogStore(TimeProvider timeProvider, TimeSpan retention, long maxTotalBytes = DefaultMaxTotalBytes)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(retention, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTotalBytes);
        _timeProvider = timeProvider;
        _retention = retention;
        _maxTotalBytes = maxTotalBytes;
        _sweeper = timeProvider.CreateTimer(_ => Sweep(), null, SweepInterval, SweepInterval);
    }

    public bool IsShared => false;

    /// <summary>Frame bytes held by all logs now.</summary>
    public long TotalBytes => Interlocked.Read(ref _totalBytes);

    /// <summary>Logs held now (swept ones excluded).</summary>
    public int Count => _logs.Count;

    public Task<string> CreateAsync(string streamId, string? ownerKey, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOwnerKey(ownerKey);
        var log = new Log(ownerKey, _timeProvider.GetUtcNow());
        if (!_logs.TryAdd(streamId, log))
        {
            throw new StreamLogUnavailableException("A stream log with this id already exists.");
        }

        return Task.FromResult(log.State().Version);
    }

    public Task<StreamLogAppend> AppendAsync(string streamId, long offset, ReadOnlyMemory<byte> frames, string? expectedVersion, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOffset(offset, nameof(offset));
        if (frames.IsEmpty)
        {
            return Task.FromResult(new StreamLogAppend(true, expectedVersion ?? "", null));
        }

        if (!_logs.TryGetValue(streamId, out var log))
        {
            throw new StreamLogUnavailableException("No stream log with this id exists.");
        }

        lock (log)
        {
            if (log.Swept)
            {
                throw new StreamLogUnavailableException("No stream log with this id exists.");
            }

            if (offset != log.Length)
            {
                // As with the blob store's conditional append: a retry of an append that is already in is done, not doubled.
                if (offset < log.Length && offset + frames.Length <= log.Length)
                {
                    var state = log.State();
                    return Task.FromResult(new StreamLogAppend(true, state.Version, state));
                }

                throw new StreamLogUnavailableException("The stream log's length does not match the append offset.");
            }

            if (expectedVersion is not null && expectedVersion != log.State().Version)
            {
                var state = log.State();
                return Task.FromResult(new StreamLogAppend(false, state.Version, state));
            }

            if (Interlocked.Add(ref _totalBytes, frames.Length) > _maxTotalBytes || (long)log.Length + frames.Length > Array.MaxLength)
            {
                Interlocked.Add(ref _totalBytes, -frames.Length);
                throw new StreamLogUnavailableException("The in-memory stream logs are full.");
            }

            log.Append(frames.Span, _timeProvider.GetUtcNow());
            return Task.FromResult(new StreamLogAppend(true, log.State().Version, null));
        }
    }

    public Task<StreamLogRead?> ReadAsync(string streamId, long fromOffset, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOffset(fromOffset, nameof(fromOffset));
        if (!_logs.TryGetValue(streamId, out var log))
        {
            return Task.FromResult<StreamLogRead?>(null);
        }

        lock (log)
        {
            var bytes = fromOffset >= log.Length ? ReadOnlyMemory<byte>.Empty : log.Bytes((int)fromOffset);
            return Task.FromResult<StreamLogRead?>(log.Swept ? null : new StreamLogRead(bytes, log.State()));
        }
    }

    public async Task<StreamLogTail?> ReadTailAsync(string streamId, long fromOffset, string? knownVersion, CancellationToken cancellationToken)
    {
        var read = await ReadAsync(streamId, fromOffset, cancellationToken);
        return read is null ? null : new StreamLogTail(read.Bytes, read.State.Version);
    }

    public Task<StreamLogState?> GetStateAsync(string streamId, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        if (!_logs.TryGetValue(streamId, out var log))
        {
            return Task.FromResult<StreamLogState?>(null);
        }

        lock (log)
        {
            return Task.FromResult(log.Swept ? null : log.State());
        }
    }

    public Task<bool> RequestCancelAsync(string streamId, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        if (!_logs.TryGetValue(streamId, out var log))
        {
            return Task.FromResult(false);
        }

        lock (log)
        {
            if (!log.CancelRequested)
            {
                log.CancelRequested = true;
                log.Changed(_timeProvider.GetUtcNow());
            }

            return Task.FromResult(!log.Swept);
        }
    }

    public Task MarkReaderAsync(string streamId, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        if (_logs.TryGetValue(streamId, out var log))
        {
            lock (log)
            {
                log.ReaderSeenAt = _timeProvider.GetUtcNow();
                log.Changed(log.ReaderSeenAt.Value);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Drops every log older than the retention. Runs on the timer; public so a host can force it.</summary>
    public void Sweep()
    {
        var cutoff = _timeProvider.GetUtcNow() - _retention;
        foreach (var (streamId, log) in _logs)
        {
            if (log.CreatedAt <= cutoff && _logs.TryRemove(new KeyValuePair<string, Log>(streamId, log)))
            {
                lock (log)
                {
                    // An append that got the log before it was removed sees this flag under the same lock.
                    log.Swept = true;
                    Interlocked.Add(ref _totalBytes, -log.Length);
                    log.Release();
                }
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    private sealed class Log(string? ownerKey, DateTimeOffset createdAt)
    {
        private byte[] _buffer = [];

        public DateTimeOffset CreatedAt { get; } = createdAt;

        public int Length { get; private set; }

        public bool CancelRequested { get; set; }

        public DateTimeOffset? ReaderSeenAt { get; set; }

        public DateTimeOffset LastModified { get; private set; } = createdAt;

        /// <summary>Counts every change, as a blob's ETag does.</summary>
        private long _version;

        public bool Swept { get; set; }

        public void Append(ReadOnlySpan<byte> frames, DateTimeOffset now)
        {
            if (Length + frames.Length > _buffer.Length)
            {
                // Written bytes are never overwritten (a grown buffer is a new array), so slices handed to readers stay valid.
                // The first append is taken at its exact size: the producing instance stores a complete reply in one.
                var grown = new byte[Length == 0 ? frames.Length : (int)Math.Min(Array.MaxLength, Math.Max(Length + frames.Length, Math.Max(1024L, 2L * _buffer.Length)))];
                _buffer.AsSpan(0, Length).CopyTo(grown);
                _buffer = grown;
            }

            frames.CopyTo(_buffer.AsSpan(Length));
            Length += frames.Length;
            Changed(now);
        }

        public void Changed(DateTimeOffset now)
        {
            LastModified = now;
            _version++;
        }

        public ReadOnlyMemory<byte> Bytes(int fromOffset) => new(_buffer, fromOffset, Length - fromOffset);

        public void Release()
        {
            _buffer = [];
            Length = 0;
        }

        public StreamLogState State() =>
            new(CreatedAt, Length, CancelRequested, ReaderSeenAt, LastModified, ownerKey, _version.ToString(CultureInfo.InvariantCulture));
    }
}
