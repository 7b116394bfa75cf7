namespace ChatFunctions.Conversations;

/// <summary>Conversations in this process only, for the standalone host without a storage account (one instance,
/// gone on restart), with the same conditional writes and tombstones as <see cref="BlobConversationStore"/>.</summary>
public sealed class InMemoryConversationStore : IConversationStore
{
    private readonly Dictionary<(string Owner, string Id), StoredConversation> _items = [];
    private readonly Lock _lock = new();

    public Task<ConversationPage> ListAsync(string owner, string? continuation, int pageSize, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var items = _items
                .Where(kv => kv.Key.Owner == owner && (continuation is null || string.CompareOrdinal(kv.Key.Id, continuation) > 0))
                .OrderBy(kv => kv.Key.Id, StringComparer.Ordinal)
                .Take(pageSize + 1)
                .Select(kv => new ConversationSummary(kv.Key.Id, kv.Value.Document.Title, kv.Value.Document.UpdatedAt, kv.Value.ETag, kv.Value.Document.Deleted))
                .ToList();
            return Task.FromResult(items.Count > pageSize
                ? new ConversationPage(items[..pageSize], items[pageSize - 1].Id)
                : new ConversationPage(items, null));
        }
    }

    public Task<int> CountLiveAsync(string owner, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_items.Count(kv => kv.Key.Owner == owner && !kv.Value.Document.Deleted));
        }
    }

    public Task<StoredConversation?> GetAsync(string owner, string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_items.GetValueOrDefault((owner, id)));
        }
    }

    public Task<string?> PutAsync(string owner, ConversationDocument document, WriteCondition condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        lock (_lock)
        {
            var exists = _items.TryGetValue((owner, document.Id), out var current);
            if ((condition.MustNotExist && exists) || (condition.IfMatch is { } etag && (!exists || current!.ETag != etag)))
            {
                return Task.FromResult<string?>(null);
            }

            var newTag = $"\"{Guid.NewGuid():N}\"";
            _items[(owner, document.Id)] = new StoredConversation(document with { Json = document.Json.ToArray() }, newTag);
            return Task.FromResult<string?>(newTag);
        }
    }
}
