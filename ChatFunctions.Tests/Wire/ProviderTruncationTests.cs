using ChatFunctions.Models;
using ChatFunctions.Streaming;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// At the provider: a reply that did not end the way a complete reply ends must look different from one that
/// did. What the model client yields (updates, finish reason, exception) for each way a stream can be cut short, for
/// Azure OpenAI and the OpenAI-compatible provider alike.
/// </summary>
[Trait("Category", "Wire")]
public sealed class ProviderTruncationTests
{
    private static readonly string[] Tokens = ["one", " two", " three", " four"];

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI)]
    [InlineData(UpstreamProvider.OpenAICompatible)]
    public async Task A_complete_stream_yields_its_text_usage_and_exactly_one_finish_reason_last(UpstreamProvider provider)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(new FakeScript { Tokens = Tokens });

        var (updates, error) = await ProviderClients.ReadAsync(clients.Protocol(provider));

        Assert.Null(error);
        Assert.Equal("one two three four", ProviderClients.Text(updates));
        var finishes = updates.Where(u => u.FinishReason is not null).ToList();
        Assert.Equal(ChatFinishReason.Stop, Assert.Single(finishes).FinishReason);
        Assert.Same(finishes[0], updates[^1]);
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(21, usage.InputTokenCount);
        Assert.Equal(4, usage.OutputTokenCount);
        Assert.Equal(25, usage.TotalTokenCount);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI, 2)]
    [InlineData(UpstreamProvider.AzureOpenAI, 4)]
    [InlineData(UpstreamProvider.OpenAICompatible, 2)]
    [InlineData(UpstreamProvider.OpenAICompatible, 4)]
    public async Task A_body_that_ends_without_finish_reason_or_done_yields_the_text_and_no_finish_reason(UpstreamProvider provider, int endAfter)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(new FakeScript { Tokens = Tokens, EndAfterTokens = endAfter });

        var (updates, error) = await ProviderClients.ReadAsync(clients.Protocol(provider));

        Assert.Null(error);
        Assert.Equal(string.Concat(Tokens.Take(endAfter)), ProviderClients.Text(updates));
        Assert.DoesNotContain(updates, u => u.FinishReason is not null);
        Assert.DoesNotContain(updates.SelectMany(u => u.Contents), c => c is UsageContent);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI)]
    [InlineData(UpstreamProvider.OpenAICompatible)]
    public async Task A_body_that_ends_after_the_finish_reason_chunk_but_before_done_yields_no_finish_reason(UpstreamProvider provider)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(new FakeScript { Tokens = Tokens, EndAfterFinishReason = true });

        var (updates, error) = await ProviderClients.ReadAsync(clients.Protocol(provider));

        Assert.Null(error);
        Assert.Equal("one two three four", ProviderClients.Text(updates));
        Assert.DoesNotContain(updates, u => u.FinishReason is not null);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI)]
    [InlineData(UpstreamProvider.OpenAICompatible)]
    public async Task The_sdk_adapter_reports_a_cut_off_body_as_finished_which_is_why_the_protocol_client_exists(UpstreamProvider provider)
    {
        // The reference behaviour this client replaces: after the finish_reason chunk the SDK adapter yields the finish
        // reason at once, so a body cut before [DONE] looks exactly like a complete reply.
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(new FakeScript { Tokens = Tokens, EndAfterFinishReason = true });

        var (updates, error) = await ProviderClients.ReadAsync(clients.SdkAdapter(provider));

        Assert.Null(error);
        Assert.Contains(updates, u => u.FinishReason == ChatFinishReason.Stop);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI, """{"error":{"message":"The server had an error while processing your request. zqx-secret","type":"server_error","param":null,"code":null}}""", StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData(UpstreamProvider.OpenAICompatible, """{"error":{"message":"The server had an error while processing your request. zqx-secret","type":"server_error","param":null,"code":null}}""", StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData(UpstreamProvider.OpenAICompatible, """{"error":{"object":"error","message":"zqx-secret is too long","type":"BadRequestError","param":null,"code":400}}""", StreamError.Codes.UpstreamError, false)]
    [InlineData(UpstreamProvider.AzureOpenAI, """{"error":{"message":"Rate limit reached zqx-secret","type":"requests","code":"rate_limit_exceeded"}}""", StreamError.Codes.RateLimited, true)]
    [InlineData(UpstreamProvider.OpenAICompatible, """{"error":{"message":"zqx-secret","type":"something_new"}}""", StreamError.Codes.UpstreamError, true)]
    public async Task An_in_stream_error_object_throws_a_classified_upstream_exception_after_the_text_before_it(
        UpstreamProvider provider, string errorJson, string code, bool retryable)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(new FakeScript { Tokens = Tokens, StreamErrorAfterTokens = 2, StreamErrorJson = errorJson });

        var (updates, error) = await ProviderClients.ReadAsync(clients.Protocol(provider));

        Assert.Equal("one two", ProviderClients.Text(updates));
        Assert.DoesNotContain(updates, u => u.FinishReason is not null);
        var upstream = Assert.IsType<ChatUpstreamException>(error);
        Assert.Equal(code, upstream.Error.Code);
        Assert.Equal(retryable, upstream.Error.Retryable);
        // The service's message may quote the prompt: it reaches neither the client's error nor a log line.
        Assert.DoesNotContain("zqx-secret", upstream.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("zqx-secret", UpstreamErrorClassifier.ForLogging(upstream).ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI, "text/html; charset=utf-8", "<html><body>502 Bad Gateway</body></html>")]
    [InlineData(UpstreamProvider.OpenAICompatible, "text/html", "<html><body>Sign in to continue</body></html>")]
    [InlineData(UpstreamProvider.AzureOpenAI, "application/json", """{"id":"chatcmpl-1","choices":[{"message":{"content":"not streamed"}}]}""")]
    public async Task A_200_that_is_not_an_event_stream_throws_a_retryable_upstream_error_before_any_text(UpstreamProvider provider, string contentType, string body)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(new FakeScript { Tokens = Tokens, NonStreamBody = body, NonStreamContentType = contentType });

        var (updates, error) = await ProviderClients.ReadAsync(clients.Protocol(provider));

        Assert.Empty(updates);
        var upstream = Assert.IsType<ChatUpstreamException>(error);
        Assert.Equal(StreamError.Codes.UpstreamError, upstream.Error.Code);
        Assert.True(upstream.Error.Retryable);
        Assert.Equal(200, upstream.Status);
        Assert.Single(fake.Requests);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI)]
    [InlineData(UpstreamProvider.OpenAICompatible)]
    public async Task A_connection_reset_mid_stream_throws_a_retryable_unavailable_error_after_the_text_before_it(UpstreamProvider provider)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        // The reset waits until the client has read the two tokens: a reset that reaches the client's socket before
        // it reads discards them in the kernel (a fixed delay lost them on a loaded machine).
        var readTwo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.Enqueue(new FakeScript { Tokens = Tokens, ResetAfterTokens = 2, ResetTrigger = readTwo.Task });

        var (updates, error) = await ProviderClients.ReadAsync(clients.Protocol(provider), read =>
        {
            if (ProviderClients.Text(read) == "one two")
            {
                readTwo.TrySetResult();
            }
        }).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("one two", ProviderClients.Text(updates));
        Assert.DoesNotContain(updates, u => u.FinishReason is not null);
        var upstream = Assert.IsType<ChatUpstreamException>(error);
        Assert.Equal(StreamError.Codes.UpstreamUnavailable, upstream.Error.Code);
        Assert.True(upstream.Error.Retryable);
    }
}
