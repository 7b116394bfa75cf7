using System.Globalization;
using System.Text.Json;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Conversations;
using ChatFunctions.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Shares;

/// <summary>A create: how to read the conversation's JSON, which is read only once the caller and the rate limit pass.</summary>
public sealed record ShareWrite(Func<CancellationToken, Task<(byte[]? Json, Refusal? Rejection)>> ReadBody);

/// <summary>What a share request came to: a rejection, or the new share / the caller's shares / a snapshot.</summary>
public sealed record ShareOutcome(Refusal? Rejection, ShareDto? Created = null, IReadOnlyList<ShareDto>? Shares = null, StoredSnapshot? Snapshot = null)
{
    public static implicit operator ShareOutcome(Refusal rejection) => new(rejection);
}

/// <summary>
/// The policy of shared links: signed-in users (the same owner as their synced conversations) create a read-only
/// snapshot of a conversation (title and the messages as shown: role and text only) and may revoke it; anyone with the
/// link reads it, without sign-in. Snapshots are bounded by CHAT_CONVERSATION_MAX_BYTES, each user keeps at most
/// CHAT_CONVERSATION_MAX_COUNT shares, and creation is rate-limited per user.
/// </summary>
public sealed class ShareService(IShareStore store, ShareCreationLimiter limiter, IOptions<ConversationOptions> options, TimeProvider time, ILogger<ShareService> logger)
{
    public const int MaxTitleChars = ConversationService.MaxTitleChars;

    /// <summary>The problem type of an anonymous create: a share needs an owner who can stop sharing it.</summary>
    public const string SignInRequiredType = "urn:chatfunctions:problem:share-needs-sign-in";

    private readonly ConversationOptions _options = options.Value;

    /// <summary>Where the page shows a share: its own address with this query (the page knows its origin; the API does not).</summary>
    public static string LinkOf(string shareId) => "/?share=" + shareId;

    public async Task<ShareOutcome> CreateAsync(Caller caller, ShareWrite write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(write);
        if (SignInRequired(caller) is { } anonymous)
        {
            return anonymous;
        }

        if (limiter.TryAdmit(caller.Key) is { } wait)
        {
            return new Refusal(RefusalKind.TooManyRequests, "shares",
                $"You created {ShareCreationLimiter.PermitsPerWindow} shared links in the last {ShareCreationLimiter.Window.TotalMinutes:0} minutes; try again in {Math.Ceiling(wait.TotalSeconds):0} s.")
            {
                RetryAfter = wait,
            };
        }

        var body = await write.ReadBody(cancellationToken);
        if (body.Rejection is { } badBody)
        {
            return badBody;
        }

        var parsed = Parse(body.Json!);
        if (parsed.Rejection is { } badRequest)
        {
            return badRequest;
        }

        var (conversationId, title, messages) = parsed.Value;
        var owner = ConversationOwner.Of(caller);
        var createdAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        return await StoreAsync(async () =>
        {
            if ((await store.ListAsync(owner, cancellationToken)).Count >= _options.MaxCount)
            {
                return new Refusal(RefusalKind.Conflict, "shares",
                    $"You have {_options.MaxCount.ToString(CultureInfo.InvariantCulture)} shared links, the most this deployment keeps per user; stop sharing some first.");
            }

            // 128 random bits do not collide in practice; the conditional write makes sure, and one more id settles it.
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var id = ShareId.New();
                var snapshot = JsonSerializer.SerializeToUtf8Bytes(new SnapshotDto(id, title, createdAt, messages), ShareJsonContext.Default.SnapshotDto);
                var share = new ShareSummary(id, conversationId, title, createdAt);
                if (await store.CreateAsync(owner, share, snapshot, cancellationToken))
                {
                    Log.ShareCreated(logger, messages.Count, snapshot.Length);
                    return new ShareOutcome(null, Created: ToDto(share));
                }
            }

            throw new ShareStoreUnavailableException("create", 409, "ShareIdTaken", new InvalidOperationException("Two fresh share ids were taken."));
        });
    }

    public async Task<ShareOutcome> ListAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (SignInRequired(caller) is { } anonymous)
        {
            return anonymous;
        }

        return await StoreAsync(async () => new ShareOutcome(null, Shares: [.. (await store.ListAsync(ConversationOwner.Of(caller), cancellationToken)).Select(ToDto)]));
    }

    /// <summary>Anyone's read: no caller, the id is the capability.</summary>
    public async Task<ShareOutcome> ReadAsync(string? id, CancellationToken cancellationToken)
    {
        if (InvalidId(id) is { } badId)
        {
            return badId;
        }

        return await StoreAsync(async () => await store.ReadAsync(id!, cancellationToken) is { } snapshot
            ? new ShareOutcome(null, Snapshot: snapshot)
            : NotFound());
    }

    /// <summary>The owner's revoke. Someone else's id answers exactly like an unknown one (404), so ids cannot be probed.</summary>
    public async Task<ShareOutcome> RevokeAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if ((SignInRequired(caller) ?? InvalidId(id)) is { } rejection)
        {
            return rejection;
        }

        return await StoreAsync(async () =>
        {
            if (!await store.RevokeAsync(ConversationOwner.Of(caller), id!, cancellationToken))
            {
                return NotFound();
            }

            Log.ShareRevoked(logger);
            return new ShareOutcome(null);
        });
    }

    private static ShareDto ToDto(ShareSummary share) => new(share.Id, share.ConversationId, share.Title, share.CreatedAt, LinkOf(share.Id));

    private static Refusal? SignInRequired(Caller caller) => caller.IsSignedIn ? null
        : new Refusal(RefusalKind.Forbidden, "Authorization",
            "Shared links are for signed-in users (a link needs an owner who can stop sharing it), and sign-in is off on this deployment (CHAT_AUTH_ENABLED=false).")
        {
            Type = SignInRequiredType,
        };

    private static Refusal? InvalidId(string? id) => ShareId.IsValid(id) ? null
        : Refusal.Invalid("id", $"A share id is the {ShareId.Length} characters after ?share= in the link (letters, digits, '-' and '_').");

    private static Refusal NotFound() =>
        new(RefusalKind.NotFound, "id", "There is no shared conversation at this link: its owner stopped sharing it, or it never existed.");

    private async Task<ShareOutcome> StoreAsync(Func<Task<ShareOutcome>> action)
    {
        try
        {
            return await action();
        }
        catch (ShareStoreUnavailableException e)
        {
            Log.ShareStoreFailed(logger, e.Operation, e.Status, e.ErrorCode ?? "none");
            return new Refusal(RefusalKind.Unavailable, "shareStore", "Shared links cannot be reached right now; try again shortly.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            };
        }
    }

    /// <summary>
    /// Reads <c>{"conversationId", "title"?, "messages": [{"role": "user"|"assistant", "content": "…"}]}</c> and keeps
    /// only those members: whatever else a message carries (reasoning, metrics, other versions) never reaches the snapshot.
    /// </summary>
    internal static ((string ConversationId, string? Title, IReadOnlyList<SharedMessageDto> Messages) Value, Refusal? Rejection) Parse(byte[] json)
    {
        if (json.Length == 0)
        {
            return (default, Refusal.Invalid("body", "The request body is empty; send the conversation to share as a JSON object."));
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (default, Refusal.Invalid("body", "The conversation to share must be a JSON object."));
            }

            if (!root.TryGetProperty("conversationId", out var idElement) || idElement.ValueKind != JsonValueKind.String || !ConversationId.IsValid(idElement.GetString()))
            {
                return (default, Refusal.Invalid("conversationId", $"conversationId must be the shared conversation's id: 1 to {ConversationId.MaxLength} letters, digits, '-' or '_'."));
            }

            string? title = null;
            if (root.TryGetProperty("title", out var titleElement) && titleElement.ValueKind != JsonValueKind.Null)
            {
                if (titleElement.ValueKind != JsonValueKind.String || titleElement.GetString()!.Length > MaxTitleChars)
                {
                    return (default, Refusal.Invalid("title", $"title must be a string of at most {MaxTitleChars} characters."));
                }

                title = titleElement.GetString();
            }

            if (!root.TryGetProperty("messages", out var messagesElement) || messagesElement.ValueKind != JsonValueKind.Array || messagesElement.GetArrayLength() == 0)
            {
                return (default, Refusal.Invalid("messages", "messages must be a non-empty array of {role, content}."));
            }

            var messages = new List<SharedMessageDto>(messagesElement.GetArrayLength());
            var index = 0;
            foreach (var message in messagesElement.EnumerateArray())
            {
                var at = $"messages[{index.ToString(CultureInfo.InvariantCulture)}]";
                if (message.ValueKind != JsonValueKind.Object)
                {
                    return (default, Refusal.Invalid(at, "Each message must be an object with role and content."));
                }

                if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || role.GetString() is not ("user" or "assistant"))
                {
                    return (default, Refusal.Invalid(at + ".role", "role must be \"user\" or \"assistant\"."));
                }

                if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                {
                    return (default, Refusal.Invalid(at + ".content", "content must be a string."));
                }

                messages.Add(new SharedMessageDto(role.GetString()!, content.GetString()!));
                index++;
            }

            return ((idElement.GetString()!, title, messages), null);
        }
        catch (JsonException ex)
        {
            return (default, Refusal.Invalid("body", $"The JSON is malformed (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})."));
        }
    }
}
