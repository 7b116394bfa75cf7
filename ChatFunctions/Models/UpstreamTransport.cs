using System.Net;

namespace ChatFunctions.Models;

/// <summary>
/// The HTTP transport for model calls. .NET's handler drains a response that is disposed mid-body (2 s / 1 MB
/// by default), so a cancelled stream kept the model generating, and billing, after the client left.
/// With draining off, cancelling the token aborts the upstream request at once.
/// </summary>
/// <remarks>
/// Requests ask for HTTP/2, which Azure OpenAI speaks over TLS: one connection carries as many streams as the server
/// allows (more connections open beyond that), so an open stream does not hold its own socket, TLS session and
/// buffers. Measured
/// at 1,000 streams over TLS (docs/benchmarks-history.md, "Memory per open stream"): app RSS 181–199 → 72–75 KiB per stream,
/// CPU 52–58 → 36–42 µs per token. A server without HTTP/2, and any plain http:// endpoint (a local Ollama), keeps
/// HTTP/1.1. Cancelling a stream resets just that stream (RST_STREAM), at once.
/// </remarks>
public static class UpstreamTransport
{
    public static HttpClient CreateHttpClient() => CreateHttpClient(static _ => { });

    /// <param name="configure">Adjusts the handler (tests: trusting a local server's certificate).</param>
    internal static HttpClient CreateHttpClient(Action<SocketsHttpHandler> configure)
    {
        var handler = CreateHandler();
        configure(handler);
        return new(new PreferHttp2 { InnerHandler = handler }, disposeHandler: true)
        {
            // ChatStreamer's idle timeout bounds each wait on the model; HttpClient's would cut long streams.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    private static SocketsHttpHandler CreateHandler() => new()
    {
        ResponseDrainTimeout = TimeSpan.Zero,
        MaxResponseDrainSize = 0,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AutomaticDecompression = DecompressionMethods.None,
        EnableMultipleHttp2Connections = true,
    };

    /// <summary>
    /// The SDK builds each request as HTTP/1.1; HttpClient's default version applies only to its own helpers. Once the
    /// model has accepted a request, the request's body is let go: the response keeps its request message, and so the
    /// prompt (1 KiB and more per open stream), for as long as the reply streams.
    /// </summary>
    private sealed class PreferHttp2 : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Version = HttpVersion.Version20;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
            var response = await base.SendAsync(request, cancellationToken);
            // A success means the server read the whole body (it is answering it); an early error may come while the
            // body is still being sent, so that one keeps it. The handler holds its own reference while it sends.
            if (response.IsSuccessStatusCode && request.Headers.ExpectContinue != true)
            {
                request.Content = null;
            }

            return response;
        }
    }
}
