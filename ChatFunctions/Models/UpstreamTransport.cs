using System.Net;

namespace ChatFunctions.Models;

/// <summary>
/// The HTTP transport for model calls. .NET's handler drains a response that is disposed mid-body (2 s / 1 MB
/// by default), so a cancelled stream kept the model generating, and billing, after the client left.
/// With draining off, cancelling the token aborts the upstream request at once.
/// </summary>
public static class UpstreamTransport
{
    public static HttpClient CreateHttpClient() => new(CreateHandler(), disposeHandler: true)
    {
        // The SDK's NetworkTimeout and our own idle timeout bound each call; HttpClient's would cut long streams.
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static SocketsHttpHandler CreateHandler() => new()
    {
        ResponseDrainTimeout = TimeSpan.Zero,
        MaxResponseDrainSize = 0,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AutomaticDecompression = DecompressionMethods.None,
        EnableMultipleHttp2Connections = true,
    };
}
