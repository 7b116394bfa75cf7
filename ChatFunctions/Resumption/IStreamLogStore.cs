namespace ChatFunctions.Resumption;

/// <summary>
/// The durable copy of each stream's SSE bytes (exactly what the client was sent, frames whole), so that a
/// resume which reaches an instance that never saw the stream can replay it and follow it to its end.
/// The producing instance appends in batches, never per token; readers poll.
/// </summary>
/// <remarks>
/// Every change of a log's state by someone other than its producer (a stop, a reader following from another
/// instance) changes its <see cref="StreamLogState.Version"/>, and the producer's appends are conditional on the version
/// it last saw: so the producer learns of a stop at its next append, with no request of its own to look for one.
/// </remarks>
public interface IStreamLogStore
{
    /// <summary>Whether other instances read what this one writes (false: in memory, this process only).</summary>
    bool IsShared { get; }

    /// <summary>Creates the empty log. <paramref name="ownerKey"/> (a caller key, or null when anonymous) is
    /// kept so that only the same caller may resume or cancel it. Returns the log's version, for the first append.</summary>
    Task<string> CreateAsync(string streamId, string? ownerKey, CancellationToken cancellationToken);

    /// <summary>Appends whole frames at <paramref name="offset"/>, the log's length before this append (a
    /// conditional append, so a retried one can never write twice). Called by one producer, one call at a time.
    /// With <paramref name="expectedVersion"/> (the version the producer last saw), nothing is appended when the
    /// log's state changed since: the result then carries the new state, and the producer appends again with its version.</summary>
    /// <exception cref="StreamLogUnavailableException">The store failed; the caller degrades resumability only.</exception>
    Task<StreamLogAppend> AppendAsync(string streamId, long offset, ReadOnlyMemory<byte> frames, string? expectedVersion, CancellationToken cancellationToken);

    /// <summary>The bytes from <paramref name="fromOffset"/> to the current end, with the log's state; null when
    /// no such log exists (never created, or deleted after retention).</summary>
    Task<StreamLogRead?> ReadAsync(string streamId, long fromOffset, CancellationToken cancellationToken);

    /// <summary>A follower's poll: the bytes from <paramref name="fromOffset"/> to the current end and the log's version,
    /// or no bytes and the same version when the log has not changed since <paramref name="knownVersion"/> (one cheap
    /// request when nothing is new); null when no such log exists.</summary>
    Task<StreamLogTail?> ReadTailAsync(string streamId, long fromOffset, string? knownVersion, CancellationToken cancellationToken);

    /// <summary>The log's state without its bytes; null when no such log exists.</summary>
    Task<StreamLogState?> GetStateAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>Asks the producer, wherever it runs, to stop: its next append fails on the changed version and it sees
    /// the request in the state that comes back. False when no such log exists.</summary>
    Task<bool> RequestCancelAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>Records that a reader is following the stream from another instance now, so that the producer
    /// keeps generating past its grace window while somebody reads.</summary>
    Task MarkReaderAsync(string streamId, CancellationToken cancellationToken);
}

/// <param name="CreatedAt">When the log was created (retention is counted from it).</param>
/// <param name="Length">Bytes in the log.</param>
/// <param name="CancelRequested">Whether someone asked the stream to stop.</param>
/// <param name="ReaderSeenAt">The last time a reader on another instance said it was following, if ever.</param>
/// <param name="LastModified">The last append or state change.</param>
/// <param name="OwnerKey">The caller key given at creation, or null.</param>
/// <param name="Version">Changes with every append and every state change (the blob's ETag).</param>
public sealed record StreamLogState(
    DateTimeOffset CreatedAt,
    long Length,
    bool CancelRequested,
    DateTimeOffset? ReaderSeenAt,
    DateTimeOffset LastModified,
    string? OwnerKey,
    string Version = "");

/// <param name="Appended">Whether the frames are in the log; false when its state changed since the expected version
/// (nothing was written).</param>
/// <param name="Version">The log's version after this call, for the next append.</param>
/// <param name="State">The log's state when the store had to look at it (a condition failed), else null: read it for a
/// stop or a reader elsewhere.</param>
public sealed record StreamLogAppend(bool Appended, string Version, StreamLogState? State);

/// <param name="Bytes">The log from the requested offset to its end when read.</param>
public sealed record StreamLogRead(ReadOnlyMemory<byte> Bytes, StreamLogState State);

/// <param name="Bytes">The log from the requested offset to its end when read; empty when nothing changed.</param>
/// <param name="Version">The log's version when read, for the next poll.</param>
public sealed record StreamLogTail(ReadOnlyMemory<byte> Bytes, string Version);

/// <summary>The stream log store could not be reached or refused a write.</summary>
public sealed class StreamLogUnavailableException : Exception
{
    public StreamLogUnavailableException()
    {
    }

    public StreamLogUnavailableException(string message)
        : base(message)
    {
    }

    public StreamLogUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
