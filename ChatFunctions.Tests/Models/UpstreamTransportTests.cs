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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Once_the_model_answers_a_request_the_response_no_longer_holds_its_body_and_the_model_got_all_of_it(bool overTls)
    {
        await using var fake = overTls ? await FakeAzureOpenAIServer.StartAsync(0, _certificate) : await FakeAzureOpenAIServer.StartAsync();
        using var http = overTls ? TrustingTheFake() : UpstreamTransport.CreateHttpClient();
        var prompt = new string('p', 64 * 1024);

        using var response = await SendAsync(http, fake, prompt);

        Assert.True(response.IsSuccessStatusCode);
        Assert.Null(response.RequestMessage!.Content);
        var received = Assert.Single(fake.Requests);
        Assert.Equal(overTls ? "HTTP/2" : "HTTP/1.1", received.Protocol);
        Assert.Equal(prompt, (string?)received.Body["messages"]![0]!["content"]);
        Assert.Contains("[DONE]", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_the_model_refuses_keeps_its_body()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(0, _certificate);
        fake.Enqueue(FakeScript.Failure(429, ("retry-after", "1")));
        using var http = TrustingTheFake();

        using var response = await SendAsync(http, fake, "hi");

        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.RequestMessage!.Content);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, FakeAzureOpenAIServer fake, string prompt)
    {
        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["stream"] = true,
            ["messages"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["role"] = "user", ["content"] = prompt }),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fake.Endpoint, "openai/deployments/chat/chat/completions?api-version=2025-04-01-preview"))
        {
            Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("api-key", "test-key");
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
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
