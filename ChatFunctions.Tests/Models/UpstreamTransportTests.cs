using System.Security.Cryptography.X509Certificates;
using ChatFunctions.Bench;
using ChatFunctions.Configuration;
using ChatFunctions.Models;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Models;

/// <summary>The model's transport against the fake server over TLS (HTTP/2 by ALPN, as Azure) and plain HTTP.</summary>
public sealed class UpstreamTransportTests : IDisposable
{
    private readonly X509Certificate2 _certificate = MemoryBench.LoopbackCertificate();

    public void Dispose() => _certificate.Dispose();

    [Fact]
    public async Task Over_TLS_replies_stream_over_HTTP2_several_at_once()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(0, _certificate);
        using var http = TrustingTheFake();
        var client = AzureOpenAI(fake, http);

        var replies = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ReadAsync(client, CancellationToken.None)));

        Assert.All(replies, text => Assert.Equal("Hello from the fake model.", text));
        Assert.Equal(3, fake.Requests.Count);
        Assert.All(fake.Requests, r => Assert.Equal("HTTP/2", r.Protocol));
    }

    [Fact]
    public async Task Over_plain_HTTP_replies_stay_on_HTTP11()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var http = UpstreamTransport.CreateHttpClient();

        Assert.Equal("Hello from the fake model.", await ReadAsync(AzureOpenAI(fake, http), CancellationToken.None));
        Assert.Equal("HTTP/1.1", Assert.Single(fake.Requests).Protocol);
    }

    [Fact]
    public async Task Over_HTTP2_cancelling_a_reply_aborts_its_upstream_request_and_the_connection_serves_the_next()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(0, _certificate);
        var aborted = new TaskCompletionSource<RecordedRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.RequestAborted += r => aborted.TrySetResult(r);
        // The model stalls after two tokens: only our cancel can end this request.
        fake.Enqueue(FakeScript.Reply("a", "b", "c", "d") with { StallAfterTokens = 2 });
        using var http = TrustingTheFake();
        var client = AzureOpenAI(fake, http);
        using var cancel = new CancellationTokenSource();

        var updates = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")], cancellationToken: cancel.Token))
            {
                if (update.Text.Length > 0 && ++updates == 2)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        var request = await aborted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("HTTP/2", request.Protocol);
        Assert.Equal("Hello from the fake model.", await ReadAsync(client, CancellationToken.None));
    }

    private HttpClient TrustingTheFake() => UpstreamTransport.CreateHttpClient(handler =>
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null && certificate.GetCertHashString() == _certificate.GetCertHashString());

    private static IChatClient AzureOpenAI(FakeAzureOpenAIServer fake, HttpClient http) => ChatModelProviderFactory.CreateAzureOpenAI(
        new AzureOpenAIOptions { Endpoint = fake.Endpoint, ChatDeployment = "chat", ApiKey = "test-key" }, http, () => null!);

    private static async Task<string> ReadAsync(IChatClient client, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")], cancellationToken: cancellationToken))
        {
            text.Append(update.Text);
        }

        return text.ToString();
    }
}
