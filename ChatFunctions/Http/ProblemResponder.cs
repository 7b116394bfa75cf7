using ChatFunctions.Chat;
using ChatFunctions.Diagnostics;
using ChatFunctions.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Http;

/// <summary>
/// Writes a rejection as RFC 9457 application/problem+json, naming the offending field in <c>errors</c>, with the
/// security headers and no-store: the one shape of every refusal, from a function or from the standalone host.
/// </summary>
public sealed class ProblemResponder(IChatStreamObserver observer, ILogger<ProblemResponder> logger)
{
    /// <summary>The problem member with the Retry-After header's value, in whole seconds.</summary>
    public const string RetryAfterSecondsMember = "retryAfterSeconds";

    /// <summary>A use case's refusal, answered with its kind's status (<see cref="RequestRejection.From"/>).</summary>
    public Task RejectAsync(HttpContext context, Refusal refusal) => RejectAsync(context, RequestRejection.From(refusal));

    public Task RejectAsync(HttpContext context, RequestRejection rejection)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(rejection);
        Log.RequestRejected(logger, rejection.Status, rejection.Field);
        observer.RequestRejected(rejection.Status, rejection.Field);

        var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [rejection.Field] = [rejection.Detail] })
        {
            Status = rejection.Status,
            Title = TitleFor(rejection),
            Detail = rejection.Detail,
            Type = rejection.Type ?? TypeFor(rejection.Status),
        };
        SecurityHeaders.ApplyApi(context.Response);
        SecurityHeaders.NoStore(context.Response);
        if (rejection.RetryAfter is { } retryAfter)
        {
            var seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

            // Retry-After is not a CORS-safelisted response header and the platform's CORS exposes none, so a page on
            // another origin (the Static Web App calling the Function App) cannot read it: the body carries the wait.
            problem.Extensions[RetryAfterSecondsMember] = seconds;
        }

        foreach (var (name, value) in rejection.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        foreach (var (name, value) in rejection.Extensions ?? new Dictionary<string, object?>())
        {
            problem.Extensions[name] = value;
        }

        return TypedResults.Problem(problem).ExecuteAsync(context);
    }

    private static string TitleFor(RequestRejection rejection) => rejection.Status switch
    {
        StatusCodes.Status400BadRequest => "The chat request is invalid.",
        StatusCodes.Status401Unauthorized => "Sign-in required.",
        StatusCodes.Status403Forbidden => "Not allowed to chat.",
        StatusCodes.Status404NotFound => "There is nothing at this address.",
        StatusCodes.Status405MethodNotAllowed => "This address does not take that method.",
        StatusCodes.Status408RequestTimeout => "The request took too long to arrive.",
        StatusCodes.Status409Conflict => "The request conflicts with what is stored.",
        StatusCodes.Status410Gone => "The stream has expired.",
        StatusCodes.Status412PreconditionFailed => "The stored version has changed.",
        StatusCodes.Status428PreconditionRequired => "A precondition is required.",
        StatusCodes.Status413PayloadTooLarge => "The chat request is too large.",
        StatusCodes.Status414UriTooLong => "The address is too long.",
        StatusCodes.Status431RequestHeaderFieldsTooLarge => "The request headers are too large.",
        StatusCodes.Status415UnsupportedMediaType => "The chat request must be JSON.",
        StatusCodes.Status429TooManyRequests => "Too many chat requests.",
        StatusCodes.Status500InternalServerError => "The server failed to handle the request.",
        StatusCodes.Status502BadGateway => "The model did not give a usable answer.",
        StatusCodes.Status503ServiceUnavailable => rejection.Field switch
        {
            "model" => "No chat model is available.",
            "storage" => "The stream store is unavailable.",
            "budget" => "The token budget cannot be checked.",
            "conversationStore" => "The conversation store is unavailable.",
            Access.EntraIdAuthenticator.Field => "Sign-in cannot be checked.",
            _ => "The service is unavailable.",
        },
        _ => "The chat request was refused.",
    };

    private static string TypeFor(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1",
        StatusCodes.Status404NotFound => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5",
        StatusCodes.Status401Unauthorized => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2",
        StatusCodes.Status403Forbidden => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.4",
        StatusCodes.Status405MethodNotAllowed => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6",
        StatusCodes.Status408RequestTimeout => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.9",
        StatusCodes.Status409Conflict => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.10",
        StatusCodes.Status410Gone => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.11",
        StatusCodes.Status412PreconditionFailed => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.13",
        StatusCodes.Status428PreconditionRequired => "https://www.rfc-editor.org/rfc/rfc6585#section-3",
        StatusCodes.Status413PayloadTooLarge => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14",
        StatusCodes.Status414UriTooLong => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.15",
        StatusCodes.Status431RequestHeaderFieldsTooLarge => "https://www.rfc-editor.org/rfc/rfc6585#section-5",
        StatusCodes.Status415UnsupportedMediaType => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.16",
        StatusCodes.Status429TooManyRequests => "https://www.rfc-editor.org/rfc/rfc6585#section-4",
        StatusCodes.Status500InternalServerError => "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.1",
        StatusCodes.Status502BadGateway => "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.3",
        StatusCodes.Status503ServiceUnavailable => "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4",
        _ => "about:blank",
    };
}
