namespace ChatFunctions.Shares;

/// <summary>
/// Shared links: a public snapshot per share, read by its id alone, and each owner's index of their shares, which is
/// what proves ownership on revoke. The index entry is written before the snapshot and removed after it, so a snapshot
/// that anyone can read is always listed for its owner to revoke.
/// </summary>
public interface IShareStore
{
    /// <summary>Stores the share; false when the id is taken (a fresh id is then tried).</summary>
    Task<bool> CreateAsync(string owner, ShareSummary share, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken);

    /// <summary>The snapshot's JSON and entity tag, or null for an unknown or revoked id.</summary>
    Task<StoredSnapshot?> ReadAsync(string shareId, CancellationToken cancellationToken);

    /// <summary>The owner's shares (no snapshots).</summary>
    Task<IReadOnlyList<ShareSummary>> ListAsync(string owner, CancellationToken cancellationToken);

    /// <summary>Deletes the share; false when the owner has no share with this id (someone else's, or none).</summary>
    Task<bool> RevokeAsync(string owner, string shareId, CancellationToken cancellationToken);
}

/// <summary>What the owner sees of a share: which of their conversations it came from, its title and when.</summary>
public sealed record ShareSummary(string Id, string ConversationId, string? Title, long CreatedAt);

public sealed record StoredSnapshot(ReadOnlyMemory<byte> Json, string ETag);

/// <summary>The store failed (unreachable, throttled, refused our identity): the caller answers 503.</summary>
public sealed class ShareStoreUnavailableException(string operation, int status, string? errorCode, Exception inner)
    : Exception($"The share store failed during {operation} (status {status}, {errorCode ?? "no error code"}).", inner)
{
    public string Operation { get; } = operation;

    public int Status { get; } = status;

    public string? ErrorCode { get; } = errorCode;
}
