using System.Globalization;
using System.Text.Json;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Conversations;
using ChatFunctions.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Shares;

/// <summary>A create as the function read it from HTTP.</summary>
public sealed record ShareWrite(Stream Body, long? ContentLength, string? ContentType);

/// <summary>What a share request came to: a rejection, or the new share / the caller's shares / a snapshot.</summary>
public sealed record ShareOutcome(RequestRejection? Rejection, ShareDto? Created = null, IReadOnlyList<ShareDto>? Shares = null, StoredSnapshot? Snapshot = null)
{
    public static implicit operator ShareOutcome(RequestRejection rejection) => new(rejection);
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
            return new RequestRejection(StatusCodes.Status429TooManyRequests, "shares",
                $"You created {ShareCreationLimiter.PermitsPerWindow} shared links in the last {ShareCreationLimiter.Window.TotalMinutes:0} minutes; try again in {Math.Ceiling(wait.TotalSeconds):0} s.")
            {
                RetryAfter = wait,
            };
        }

        if (!IsJson(write.ContentType))
        {
            return new RequestRejection(StatusCodes.Status415UnsupportedMediaType, "content-type", "Send the conversation to share as application/json.");
        }

        var body = await BoundedBody.ReadAsync(write.Body, write.ContentLength, _options.MaxBytes, cancellationToken);
        if ((body.TooLarge ? TooLarge() : body.Unreadable) is { } badBody)
        {
            return badBody;
        }

        var parsed = Parse(body.Bytes!);
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
                return new RequestRejection(StatusCodes.Status409Conflict, "shares",
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

    private static RequestRejection? SignInRequired(Caller caller) => caller.IsSignedIn ? null
        : new RequestRejection(StatusCodes.Status403Forbidden, "Authorization",
            "Shared links are for signed-in users (a link needs an owner who can stop sharing it), and sign-in is off on this deployment (CHAT_AUTH_ENABLED=false).")
        {
            Type = SignInRequiredType,
        };

    private static RequestRejection? InvalidId(string? id) => ShareId.IsValid(id) ? null
        : RequestRejection.BadRequest("id", $"A share id is the {ShareId.Length} characters after ?share= in the link (letters, digits, '-' and '_').");

    private static RequestRejection NotFound() =>
        new(StatusCodes.Status404NotFound, "id", "There is no shared conversation at this link: its owner stopped sharing it, or it never existed.");

    private RequestRejection TooLarge() =>
        new(StatusCodes.Status413PayloadTooLarge, "body",
            $"A shared conversation may take {_options.MaxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes of JSON on this deployment; this one is larger.");

    private async Task<ShareOutcome> StoreAsync(Func<Task<ShareOutcome>> action)
    {
        try
        {
            return await action();
        }
        catch (ShareStoreUnavailableException e)
        {
            Log.ShareStoreFailed(logger, e.Operation, e.Status, e.ErrorCode ?? "none");
            return new RequestRejection(StatusCodes.Status503ServiceUnavailable, "shareStore", "Shared links cannot be reached right now; try again shortly.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            };
        }
    }

    /// <summary>
    /// Reads <c>{"conversationId", "title"?, "messages": [{"role": "user"|"assistant", "content": "…"}]}</c> and keeps
    /// only those members: whatever else a message carries (reasoning, metrics, other versions) never reaches the snapshot.
    /// </summary>
    internal static ((string ConversationId, string? Title, IReadOnlyList<SharedMessageDto> Messages) Value, RequestRejection? Rejection) Parse(byte[] json)
    {
        if (json.Length == 0)
        {
            return (default, RequestRejection.BadRequest("body", "The request body is empty; send the conversation to share as a JSON object."));
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (default, RequestRejection.BadRequest("body", "The conversation to share must be a JSON object."));
            }

            if (!root.TryGetProperty("conversationId", out var idElement) || idElement.ValueKind != JsonValueKind.String || !ConversationId.IsValid(idElement.GetString()))
            {
                return (default, RequestRejection.BadRequest("conversationId", $"conversationId must be the shared conversation's id: 1 to {ConversationId.MaxLength} letters, digits, '-' or '_'."));
            }

            string? title = null;
            if (root.TryGetProperty("title", out var titleElement) && titleElement.ValueKind != JsonValueKind.Null)
            {
                if (titleElement.ValueKind != JsonValueKind.String || titleElement.GetString()!.Length > MaxTitleChars)
                {
                    return (default, RequestRejection.BadRequest("title", $"title must be a string of at most {MaxTitleChars} characters."));
                }

                title = titleElement.GetString();
            }

            if (!root.TryGetProperty("messages", out var messagesElement) || messagesElement.ValueKind != JsonValueKind.Array || messagesElement.GetArrayLength() == 0)
            {
                return (default, RequestRejection.BadRequest("messages", "messages must be a non-empty array of {role, content}."));
            }

            var messages = new List<SharedMessageDto>(messagesElement.GetArrayLength());
            var index = 0;
            foreach (var message in messagesElement.EnumerateArray())
            {
                var at = $"messages[{index.ToString(CultureInfo.InvariantCulture)}]";
                if (message.ValueKind != JsonValueKind.Object)
                {
                    return (default, RequestRejection.BadRequest(at, "Each message must be an object with role and content."));
                }

                if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || role.GetString() is not ("user" or "assistant"))
                {
                    return (default, RequestRejection.BadRequest(at + ".role", "role must be \"user\" or \"assistant\"."));
                }

                if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                {
                    return (default, RequestRejection.BadRequest(at + ".content", "content must be a string."));
                }

                messages.Add(new SharedMessageDto(role.GetString()!, content.GetString()!));
                index++;
            }

            return ((idElement.GetString()!, title, messages), null);
        }
        catch (JsonException ex)
        {
            return (default, RequestRejection.BadRequest("body", $"The JSON is malformed (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})."));
        }
    }

    private static bool IsJson(string? contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Value is { } type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)));
}
