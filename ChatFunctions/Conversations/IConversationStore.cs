namespace ChatFunctions.Conversations;

/// <summary>
/// One user's conversations, kept as whole JSON documents with an entity tag each. Writes are conditional (create
/// only if absent, or replace only the version the writer read), so two devices never overwrite each other unseen.
/// A delete leaves a tombstone, so a device that still holds the conversation cannot bring it back by saving it.
/// </summary>
public interface IConversationStore
{
    /// <summary>One page of the owner's conversations, tombstones included, in id order.</summary>
    Task<ConversationPage> ListAsync(string owner, string? continuation, int pageSize, CancellationToken cancellationToken);

    /// <summary>Live (not deleted) conversations of the owner.</summary>
    Task<int> CountLiveAsync(string owner, CancellationToken cancellationToken);

    /// <summary>The document (or tombstone), or null when there never was one.</summary>
    Task<StoredConversation?> GetAsync(string owner, string id, CancellationToken cancellationToken);

    /// <summary>Writes when <paramref name="condition"/> holds; null when it does not (the caller answers 412).</summary>
    Task<string?> PutAsync(string owner, ConversationDocument document, WriteCondition condition, CancellationToken cancellationToken);
}

/// <summary>What a write requires of the stored version: absent (<c>If-None-Match: *</c>), this entity tag
/// (<c>If-Match</c>), or nothing (only deletes go unconditionally).</summary>
public readonly record struct WriteCondition(bool MustNotExist, string? IfMatch)
{
    public static WriteCondition None => default;

    public static WriteCondition Absent => new(true, null);

    public static WriteCondition Matching(string etag) => new(false, etag);
}

/// <summary>What a listing shows of a conversation: no messages.</summary>
public sealed record ConversationSummary(string Id, string? Title, long UpdatedAt, string ETag, bool Deleted);

public sealed record ConversationPage(IReadOnlyList<ConversationSummary> Items, string? Continuation);

/// <summary>The bytes as the page sent them (or the tombstone), with what listing needs.</summary>
public sealed record ConversationDocument(string Id, string? Title, long UpdatedAt, bool Deleted, ReadOnlyMemory<byte> Json);

public sealed record StoredConversation(ConversationDocument Document, string ETag);

/// <summary>The store failed (unreachable, throttled, refused our identity): the caller refuses as unavailable.</summary>
public sealed class ConversationStoreUnavailableException(string operation, int status, string? errorCode, Exception inner)
    : Exception($"The conversation store failed during {operation} (status {status}, {errorCode ?? "no error code"}).", inner)
{
    public string Operation { get; } = operation;

    public int Status { get; } = status;

    public string? ErrorCode { get; } = errorCode;
}
