using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Chat;

/// <summary>
/// Why a request was refused before streaming began; becomes an RFC 9457 problem response.
/// <paramref name="Field"/> names the offending input (<c>message</c>, <c>history[2].role</c>, <c>body</c>).
/// </summary>
public sealed record RequestRejection(int Status, string Field, string Detail)
{
    /// <summary>Sent as Retry-After (429, 503) and, for cross-origin pages, as the problem's <c>retryAfterSeconds</c>.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Extra response headers (WWW-Authenticate on 401/403).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>The problem's type URI when the status alone does not say it (null: the status's RFC section).</summary>
    public string? Type { get; init; }

    /// <summary>RFC 9457 extension members (resetAt on a spent token budget).</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    public static RequestRejection BadRequest(string field, string detail) => new(StatusCodes.Status400BadRequest, field, detail);
}

/// <summary>Either a valid request or the reason it was rejected.</summary>
public readonly record struct ChatRequestReadResult(ChatRequest? Request, RequestRejection? Rejection)
{
    public static implicit operator ChatRequestReadResult(ChatRequest request) => new(request, null);

    public static implicit operator ChatRequestReadResult(RequestRejection rejection) => new(null, rejection);
}
