using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Http;

/// <summary>
/// The response headers every answer of ours carries. The functions call <see cref="ApplyApi"/> themselves, so the
/// Functions host (which runs no middleware of ours) sends the same as the standalone host, whose middleware adds them
/// to what no function answers (static page, routing and limit rejections).
/// </summary>
public static class SecurityHeaders
{
    /// <summary>An API response is never a document: it may load nothing and be framed by nobody.</summary>
    public const string ApiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

    /// <summary>Headers for JSON, problem and SSE responses. Idempotent; call before the response starts.</summary>
    public static void ApplyApi(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        ApplyCommon(response);
        response.Headers.ContentSecurityPolicy = ApiContentSecurityPolicy;
    }

    /// <summary>Headers for the page the standalone host serves; <paramref name="contentSecurityPolicy"/> is the page's own.</summary>
    public static void ApplyPage(HttpResponse response, string contentSecurityPolicy)
    {
        ArgumentNullException.ThrowIfNull(response);
        ApplyCommon(response);
        if (!response.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.ContentSecurityPolicy))
        {
            response.Headers.ContentSecurityPolicy = contentSecurityPolicy;
        }
    }

    /// <summary>Problems and JSON answers describe one request: no cache (shared or private) may keep them.</summary>
    public static void NoStore(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers.CacheControl = "no-store";
    }

    private static void ApplyCommon(HttpResponse response)
    {
        // nosniff: a browser must not guess a script or a page out of a JSON or text answer.
        response.Headers.XContentTypeOptions = "nosniff";
        // no-referrer: links in a reply must not tell other sites which page (and query) they were followed from.
        response.Headers["Referrer-Policy"] = "no-referrer";
        // For browsers that predate CSP frame-ancestors.
        response.Headers.XFrameOptions = "DENY";
    }
}
