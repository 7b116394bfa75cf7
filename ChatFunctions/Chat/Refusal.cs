namespace ChatFunctions.Chat;

/// <summary>What kind of refusal, in the use cases' words; Http answers each with its status (RequestRejection.From).</summary>
public enum RefusalKind
{
    /// <summary>The input is malformed or out of bounds.</summary>
    Invalid,

    /// <summary>Who the caller is could not be established (no token, or a token that failed).</summary>
    Unauthenticated,

    /// <summary>The caller is known and not allowed.</summary>
    Forbidden,

    /// <summary>Nothing of that name, or nothing the caller may see.</summary>
    NotFound,

    /// <summary>The input arrived too slowly.</summary>
    TooSlow,

    /// <summary>The request conflicts with what is kept (a limit on how many).</summary>
    Conflict,

    /// <summary>It existed and is no longer kept.</summary>
    Expired,

    /// <summary>The version the request names is not the one kept.</summary>
    VersionMismatch,

    /// <summary>A change must name the version it replaces.</summary>
    VersionRequired,

    /// <summary>The input is larger than the limit.</summary>
    TooLarge,

    /// <summary>The input is not in a format this use case reads.</summary>
    UnsupportedFormat,

    /// <summary>A limit on how often or how much: try again after <see cref="Refusal.RetryAfter"/>.</summary>
    TooManyRequests,

    /// <summary>The model answered, but not with anything usable.</summary>
    ModelFailed,

    /// <summary>Something this use case needs (the model, the store, the identity provider) is not available.</summary>
    Unavailable,

    /// <summary>What was asked may have happened, but it could not be confirmed in time.</summary>
    NotConfirmed,
}

/// <summary>
/// Why a use case refused a request, apart from any protocol. <paramref name="Field"/> names the offending input
/// (<c>message</c>, <c>history[2].role</c>, <c>body</c>).
/// </summary>
public sealed record Refusal(RefusalKind Kind, string Field, string Detail)
{
    /// <summary>How long to wait before asking again.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>How to authenticate (an RFC 6750 Bearer challenge) when the refusal is about who the caller is.</summary>
    public string? Challenge { get; init; }

    /// <summary>A URI naming the refusal when its kind alone does not say it (null: the kind says it).</summary>
    public string? Type { get; init; }

    /// <summary>Further facts the caller can act on (resetAt on a spent token budget).</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    public static Refusal Invalid(string field, string detail) => new(RefusalKind.Invalid, field, detail);
}

/// <summary>Either a valid request or the reason it was refused.</summary>
public readonly record struct ChatRequestReadResult(ChatRequest? Request, Refusal? Rejection)
{
    public static implicit operator ChatRequestReadResult(ChatRequest request) => new(request, null);

    public static implicit operator ChatRequestReadResult(Refusal rejection) => new(null, rejection);
}
