using System.Globalization;
using System.Text.Json;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Conversations;

/// <summary>A save: the route's id, the preconditions, and how to read the document's JSON, which is read only once
/// the caller, the id and the preconditions pass.</summary>
public sealed record ConversationWrite(
    string? Id,
    Func<CancellationToken, Task<(byte[]? Json, Refusal? Rejection)>> ReadBody,
    string? IfMatch,
    string? IfNoneMatch);

/// <summary>What a conversation request came to: a rejection, or the document / its new ETag / a page of the list.</summary>
public sealed record ConversationOutcome(Refusal? Rejection, StoredConversation? Conversation = null, string? ETag = null, ConversationPage? Page = null)
{
    public static implicit operator ConversationOutcome(Refusal rejection) => new(rejection);
}

/// <summary>
/// The policy of conversation sync: who may (signed-in users only, each in their own prefix), what (valid ids, JSON
/// documents within CHAT_CONVERSATION_MAX_BYTES, at most CHAT_CONVERSATION_MAX_COUNT conversations), and how saves
/// meet (conditional writes; deletes leave tombstones).
/// </summary>
public sealed class ConversationService(IConversationStore store, IOptions<ConversationOptions> options, TimeProvider time, ILogger<ConversationService> logger)
{
    public const int MaxTitleChars = 200;
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 1_000;
    public const int MaxContinuationChars = 1_024;

    /// <summary>The problem type of the refusal every anonymous caller gets: sync needs sign-in.</summary>
    public const string SignInRequiredType = "urn:chatfunctions:problem:sync-needs-sign-in";

    private readonly ConversationOptions _options = options.Value;

    public async Task<ConversationOutcome> ListAsync(Caller caller, string? continuation, string? limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (SignInRequired(caller) is { } anonymous)
        {
            return anonymous;
        }

        var pageSize = DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxPageSize))
        {
            return Refusal.Invalid("limit", $"limit must be a whole number from 1 to {MaxPageSize}.");
        }

        if (continuation is { Length: 0 or > MaxContinuationChars })
        {
            return Refusal.Invalid("continuation", "continuation must be the 'next' value of the previous page.");
        }

        return await StoreAsync(async () => new ConversationOutcome(null, Page: await store.ListAsync(ConversationOwner.Of(caller), continuation, pageSize, cancellationToken)));
    }

    public async Task<ConversationOutcome> GetAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if ((SignInRequired(caller) ?? InvalidId(id)) is { } rejection)
        {
            return rejection;
        }

        return await StoreAsync(async () => await store.GetAsync(ConversationOwner.Of(caller), id!, cancellationToken) is { } stored
            ? new ConversationOutcome(null, stored)
            : NotFound());
    }

    public async Task<ConversationOutcome> PutAsync(Caller caller, ConversationWrite write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(write);
        if ((SignInRequired(caller) ?? InvalidId(write.Id)) is { } rejection)
        {
            return rejection;
        }

        var condition = ReadCondition(write.IfMatch, write.IfNoneMatch);
        if (condition.Rejection is { } badCondition)
        {
            return badCondition;
        }

        if (condition.Value == WriteCondition.None)
        {
            return new Refusal(RefusalKind.VersionRequired, "If-Match",
                "Save with If-None-Match: * (a new conversation) or If-Match: <the ETag you read>, so that no other device's save is overwritten unseen.");
        }

        var body = await write.ReadBody(cancellationToken);
        if (body.Rejection is { } badBody)
        {
            return badBody;
        }

        var parsed = Parse(write.Id!, body.Json!);
        if (parsed.Rejection is { } badDocument)
        {
            return badDocument;
        }

        var owner = ConversationOwner.Of(caller);
        return await StoreAsync(async () =>
        {
            if (condition.Value.MustNotExist && await store.CountLiveAsync(owner, cancellationToken) >= _options.MaxCount)
            {
                return new Refusal(RefusalKind.Conflict, "conversations",
                    $"You keep {_options.MaxCount.ToString(CultureInfo.InvariantCulture)} conversations, the most this deployment stores per user; delete some to sync new ones.");
            }

            var etag = await store.PutAsync(owner, parsed.Document!, condition.Value, cancellationToken);
            return etag is null ? PreconditionFailed(condition.Value) : new ConversationOutcome(null, ETag: etag);
        });
    }

    /// <summary>Replaces the conversation with a tombstone (kept, so a device's stale copy cannot bring it back), with
    /// If-Match when the caller sent one; deleting an unknown id leaves a tombstone too, for the same reason.</summary>
    public async Task<ConversationOutcome> DeleteAsync(Caller caller, string? id, string? ifMatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if ((SignInRequired(caller) ?? InvalidId(id)) is { } rejection)
        {
            return rejection;
        }

        var condition = ReadCondition(ifMatch, null);
        if (condition.Rejection is { } badCondition)
        {
            return badCondition;
        }

        var deletedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        var tombstone = JsonSerializer.SerializeToUtf8Bytes(new TombstoneDto(id!, true, deletedAt, deletedAt), ConversationJsonContext.Default.TombstoneDto);
        var document = new ConversationDocument(id!, null, deletedAt, Deleted: true, tombstone);
        return await StoreAsync(async () =>
            await store.PutAsync(ConversationOwner.Of(caller), document, condition.Value, cancellationToken) is { } etag
                ? new ConversationOutcome(null, ETag: etag)
                : PreconditionFailed(condition.Value));
    }

    private static Refusal? SignInRequired(Caller caller) => caller.IsSignedIn ? null
        : new Refusal(RefusalKind.NotFound, "Authorization",
            "Conversation sync is for signed-in users, and sign-in is off on this deployment (CHAT_AUTH_ENABLED=false): conversations stay in this browser.")
        {
            Type = SignInRequiredType,
        };

    private static Refusal? InvalidId(string? id) => ConversationId.IsValid(id) ? null
        : Refusal.Invalid("id", $"A conversation id is 1 to {ConversationId.MaxLength} letters, digits, '-' or '_'.");

    private static Refusal NotFound() =>
        new(RefusalKind.NotFound, "id", "You have no conversation with this id.");

    private static Refusal PreconditionFailed(WriteCondition condition) =>
        new(RefusalKind.VersionMismatch, condition.MustNotExist ? "If-None-Match" : "If-Match",
            condition.MustNotExist
                ? "A conversation with this id exists (or was deleted): fetch it, merge, and save with If-Match."
                : "The conversation changed since this version was read: fetch it, merge, and save with the new ETag.");

    private static (WriteCondition Value, Refusal? Rejection) ReadCondition(string? ifMatch, string? ifNoneMatch)
    {
        if (!string.IsNullOrEmpty(ifMatch) && !string.IsNullOrEmpty(ifNoneMatch))
        {
            return (default, Refusal.Invalid("If-Match", "Send If-Match (to replace a version) or If-None-Match: * (to create), not both."));
        }

        if (!string.IsNullOrEmpty(ifNoneMatch))
        {
            return ifNoneMatch.Trim() == "*"
                ? (WriteCondition.Absent, null)
                : (default, Refusal.Invalid("If-None-Match", "If-None-Match takes only '*' here (create if absent)."));
        }

        if (!string.IsNullOrEmpty(ifMatch))
        {
            var etag = ifMatch.Trim();
            return etag.Length is > 2 and <= 128 && etag[0] == '"' && etag[^1] == '"' && !etag[1..^1].Contains('"', StringComparison.Ordinal)
                ? (WriteCondition.Matching(etag), null)
                : (default, Refusal.Invalid("If-Match", "If-Match must be one ETag exactly as the server sent it (a quoted string)."));
        }

        return (WriteCondition.None, null);
    }

    private async Task<ConversationOutcome> StoreAsync(Func<Task<ConversationOutcome>> action)
    {
        try
        {
            return await action();
        }
        catch (ConversationStoreUnavailableException e)
        {
            Log.ConversationStoreFailed(logger, e.Operation, e.Status, e.ErrorCode ?? "none");
            return new Refusal(RefusalKind.Unavailable, "conversationStore",
                "Conversations cannot be reached right now; this browser keeps its copy and syncs later.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            };
        }
    }

    /// <summary>Checks what the server relies on (the id, and the title and updatedAt it lists); the rest of the
    /// document is the page's and is kept as sent.</summary>
    internal static (ConversationDocument? Document, Refusal? Rejection) Parse(string id, byte[] json)
    {
        if (json.Length == 0)
        {
            return (null, Refusal.Invalid("body", "The request body is empty; send the conversation as a JSON object."));
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, Refusal.Invalid("body", "The conversation must be a JSON object."));
            }

            if (!root.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String || idElement.GetString() != id)
            {
                return (null, Refusal.Invalid("id", "The document's id must be a string equal to the id in the URL."));
            }

            string? title = null;
            if (root.TryGetProperty("title", out var titleElement) && titleElement.ValueKind != JsonValueKind.Null)
            {
                if (titleElement.ValueKind != JsonValueKind.String || titleElement.GetString()!.Length > MaxTitleChars)
                {
                    return (null, Refusal.Invalid("title", $"title must be a string of at most {MaxTitleChars} characters."));
                }

                title = titleElement.GetString();
            }

            if (!root.TryGetProperty("updatedAt", out var updatedElement) || updatedElement.ValueKind != JsonValueKind.Number || !updatedElement.TryGetInt64(out var updatedAt) || updatedAt < 0)
            {
                return (null, Refusal.Invalid("updatedAt", "updatedAt must be the time of the last change, in milliseconds since 1970-01-01 UTC."));
            }

            if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            {
                return (null, Refusal.Invalid("messages", "messages must be an array."));
            }

            if (root.TryGetProperty("deleted", out _))
            {
                return (null, Refusal.Invalid("deleted", "Delete a conversation with DELETE; a saved conversation has no 'deleted' member."));
            }

            return (new ConversationDocument(id, title, updatedAt, false, json), null);
        }
        catch (JsonException ex)
        {
            return (null, Refusal.Invalid("body", $"The JSON is malformed (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})."));
        }
    }
}
