namespace ChatFunctions.Shares;

/// <summary>Shares in this process only, for the standalone host without a storage account (one instance, gone on
/// restart), with the same ownership rules as <see cref="BlobShareStore"/>.</summary>
public sealed class InMemoryShareStore : IShareStore
{
    private readonly Dictionary<string, (string Owner, ShareSummary Share, byte[] Snapshot)> _shares = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public Task<bool> CreateAsync(string owner, ShareSummary share, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(share);
        lock (_lock)
        {
            return Task.FromResult(_shares.TryAdd(share.Id, (owner, share, snapshot.ToArray())));
        }
    }

    public Task<StoredSnapshot?> ReadAsync(string shareId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_shares.TryGetValue(shareId, out var entry)
                ? new StoredSnapshot(entry.Snapshot, $"\"{shareId}\"")
                : null);
        }
    }

    public Task<IReadOnlyList<ShareSummary>> ListAsync(string owner, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<ShareSummary>>(
                [.. _shares.Values.Where(e => e.Owner == owner).Select(e => e.Share).OrderBy(s => s.CreatedAt)]);
        }
    }

    public Task<bool> RevokeAsync(string owner, string shareId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_shares.TryGetValue(shareId, out var entry) && entry.Owner == owner && _shares.Remove(shareId));
        }
    }
}
