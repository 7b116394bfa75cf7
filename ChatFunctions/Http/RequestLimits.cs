using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;

namespace ChatFunctions.Http;

/// <summary>
/// The standalone host's limits on the request line and headers, checked by the app so that a refusal is a problem
/// naming what was too large, and what the standalone host answers for statuses routing sets without a body.
/// Kestrel's own limits are set higher (<see cref="ServerHardLimitBytes"/>); only past those does Kestrel answer by
/// itself, with an empty body.
/// </summary>
public static class RequestLimits
{
    /// <summary>Kestrel's default request-line limit: a GET with a message near CHAT_MAX_MESSAGE_CHARS still fits.</summary>
    public const int MaxRequestTargetBytes = 8 * 1024;

    /// <summary>Far more than a browser, a bearer token and the forwarding headers of a proxy or two need.</summary>
    public const int MaxRequestHeaderBytes = 16 * 1024;

    /// <summary>Kestrel's default header count.</summary>
    public const int MaxRequestHeaderCount = 100;

    public const int ServerHardLimitBytes = 64 * 1024;

    public const int ServerHardLimitHeaderCount = 1_000;

    public static RequestRejection? Check(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (target is not null && target.Length > MaxRequestTargetBytes)
        {
            return new RequestRejection(StatusCodes.Status414UriTooLong, "url",
                $"The request target is {target.Length} bytes; the limit is {MaxRequestTargetBytes}. Send a long message with POST.");
        }

        long headerBytes = 0;
        var headerCount = 0;
        foreach (var (name, values) in context.Request.Headers)
        {
            foreach (var value in values)
            {
                headerCount++;
                headerBytes += name.Length + 4 + (value?.Length ?? 0); // "name: value\r\n"
            }
        }

        if (headerCount > MaxRequestHeaderCount)
        {
            return new RequestRejection(StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers",
                $"The request has {headerCount} header fields; the limit is {MaxRequestHeaderCount}.");
        }

        if (headerBytes > MaxRequestHeaderBytes)
        {
            return new RequestRejection(StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers",
                $"The request headers are {headerBytes} bytes; the limit is {MaxRequestHeaderBytes}.");
        }

        return null;
    }

    /// <summary>The problem for a status set without a body (routing's 404 and 405, or any other).</summary>
    public static RequestRejection RejectionFor(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var status = context.Response.StatusCode;
        return status switch
        {
            StatusCodes.Status404NotFound => new RequestRejection(status, "path", "Nothing answers at this path; the API is under /api (chat/stream, health)."),
            StatusCodes.Status405MethodNotAllowed => new RequestRejection(status, "method",
                $"This path does not take {context.Request.Method}; the Allow header lists the methods it takes."),
            _ => new RequestRejection(status, "request", ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase + "." : "The request was refused."),
        };
    }
}
