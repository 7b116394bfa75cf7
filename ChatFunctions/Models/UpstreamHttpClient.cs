namespace ChatFunctions.Models;

/// <summary>The one HttpClient for model calls, with the no-drain handler; owned by DI.</summary>
public sealed class UpstreamHttpClient : IDisposable
{
    public HttpClient Client { get; } = UpstreamTransport.CreateHttpClient();

    public void Dispose() => Client.Dispose();
}
