using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ChatFunctions.Http;

/// <summary>Response headers and settings that keep an SSE stream flowing through proxies: an event-stream content
/// type, no caching, no transformation or compression, and no buffering in Kestrel or a reverse proxy, any of which
/// would hold frames back until the reply ends.</summary>
public static class EventStreamResponse
{
    public const string ContentType = "text/event-stream; charset=utf-8";

    public static void Start(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.StatusCode = StatusCodes.Status200OK;
        SecurityHeaders.ApplyApi(response);
        response.ContentType = ContentType;
        // no-transform keeps intermediaries from compressing (which buffers); X-Accel-Buffering turns off nginx-style buffering.
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}
