namespace ChatFunctions.Resumption;

/// <summary>
/// The durable copy of each stream's SSE bytes (exactly what the client was sent, frames whole), so that a
/// resume which reaches an instance that never saw the stream can replay it and follow it to its end.
/// The producing instance appends in batches, never per token; readers poll.
/// </summary>
public interface IStreamLogStore
{
    /// <summary>Whether other instances read what this one writes (false: in memory, this process only).</summary>
    bool IsShared { get; }

    /// <summary>Creates the empty log. <paramref name="ownerKey"/> (a caller key, or null when anonymous) is
    /// kept so that only the same caller may resume or cancel it.</summary>
    Task CreateAsync(string streamId, string? ownerKey, CancellationToken cancellationToken);

    /// <summary>Appends whole frames at <paramref name="offset"/>, the log's length before this append (a
    /// conditional append, so a retried one can never write twice). Called by one producer, one call at a time.</summary>
    /// <exception cref="StreamLogUnavailableException">The store failed; the caller degrades resumability only.</exception>
    Task AppendAsync(string streamId, long offset, ReadOnlyMemory<byte> frames, CancellationToken cancellationToken);

    /// <summary>The bytes from <paramref name="fromOffset"/> to the current end, with the log's state; null when
    /// no such log exists (never created, or deleted after retention).</summary>
    Task<StreamLogRead?> ReadAsync(string streamId, long fromOffset, CancellationToken cancellationToken);

    /// <summary>The log's state without its bytes; null when no such log exists.</summary>
    Task<StreamLogState?> GetStateAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>Asks the producer, wherever it runs, to stop: it sees the request the next time it checks the state.
    /// False when no such log exists.</summary>
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
public sealed record StreamLogState(
    DateTimeOffset CreatedAt,
    long Length,
    bool CancelRequested,
    DateTimeOffset? ReaderSeenAt,
    DateTimeOffset LastModified,
    string? OwnerKey);

/// <param name="Bytes">The log from the requested offset to its end when read.</param>
public sealed record StreamLogRead(ReadOnlyMemory<byte> Bytes, StreamLogState State);

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
