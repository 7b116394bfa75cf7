using ChatFunctions.Chat;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Http;

/// <summary>
/// Why a request was refused before streaming began, as HTTP answers it: an RFC 9457 problem response
/// (<see cref="ProblemResponder"/>). <paramref name="Field"/> names the offending input (<c>message</c>,
/// <c>history[2].role</c>, <c>body</c>). The use cases refuse with a <see cref="Refusal"/>, which <see cref="From"/> maps.
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

    /// <summary>A use case's refusal as HTTP answers it: its kind's status, a challenge as WWW-Authenticate.</summary>
    public static RequestRejection From(Refusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return new RequestRejection(StatusOf(refusal.Kind), refusal.Field, refusal.Detail)
        {
            RetryAfter = refusal.RetryAfter,
            Headers = refusal.Challenge is { } challenge ? new Dictionary<string, string> { ["WWW-Authenticate"] = challenge } : null,
            Type = refusal.Type,
            Extensions = refusal.Extensions,
        };
    }

    public static int StatusOf(RefusalKind kind) => kind switch
    {
        RefusalKind.Invalid => StatusCodes.Status400BadRequest,
        RefusalKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        RefusalKind.Forbidden => StatusCodes.Status403Forbidden,
        RefusalKind.NotFound => StatusCodes.Status404NotFound,
        RefusalKind.TooSlow => StatusCodes.Status408RequestTimeout,
        RefusalKind.Conflict => StatusCodes.Status409Conflict,
        RefusalKind.Expired => StatusCodes.Status410Gone,
        RefusalKind.VersionMismatch => StatusCodes.Status412PreconditionFailed,
        RefusalKind.VersionRequired => StatusCodes.Status428PreconditionRequired,
        RefusalKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        RefusalKind.UnsupportedFormat => StatusCodes.Status415UnsupportedMediaType,
        RefusalKind.TooManyRequests => StatusCodes.Status429TooManyRequests,
        RefusalKind.ModelFailed => StatusCodes.Status502BadGateway,
        RefusalKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        RefusalKind.NotConfirmed => StatusCodes.Status504GatewayTimeout,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
