using System.Text.Json.Nodes;
using Azure.Core;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// <see cref="ResponsesProtocolChatClient"/> must yield what the SDK's own types did for CHAT_API=responses
/// (Microsoft.Extensions.AI's adapter for the SDK's ResponsesClient with <see cref="ResponsesEndingsChatClient"/>):
/// the same request on the wire, the same text and reasoning-summary deltas, finish reasons, usage and errors, through
/// the fake server's endings and faults. Each case runs both clients against the same script and compares.
/// </summary>
[Trait("Category", "Wire")]
public sealed class ResponsesClientEquivalenceTests
{
    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, "low")]
    [InlineData(true, "minimal")]
    public async Task The_request_path_auth_and_body_are_those_the_sdk_adapter_sends(bool keyless, string? effort)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        var credential = keyless ? new StaticTokenCredential("fake-entra-token") : null;

        var (_, sdkError) = await ProviderClients.ReadAsync(clients.ResponsesSdkAdapter(credential, effort));
        var (_, ourError) = await ProviderClients.ReadAsync(clients.Responses(credential, effort));

        Assert.Null(sdkError);
        Assert.Null(ourError);
        var requests = fake.Requests.ToList();
        Assert.Equal(2, requests.Count);
        var (sdk, ours) = (requests[0], requests[1]);
        Assert.Equal("/openai/v1/responses", ours.PathAndQuery);
        Assert.Equal(sdk.PathAndQuery, ours.PathAndQuery);
        foreach (var header in new[] { "api-key", "Authorization", "Content-Type" })
        {
            Assert.Equal(sdk.Headers.GetValueOrDefault(header), ours.Headers.GetValueOrDefault(header));
        }

        // The one header that differs on purpose: accepting text/event-stream opts the SDK's pipeline into SSE
        // reconnection (ResponsesProtocolChatClient says why; TruncatedReplyTests shows the cut reply it would splice).
        Assert.Contains("text/event-stream", sdk.Headers["Accept"], StringComparison.Ordinal);
        Assert.Equal("application/json", ours.Headers["Accept"]);

        Assert.Equal(keyless ? "Bearer fake-entra-token" : null, ours.Headers.GetValueOrDefault("Authorization"));
        Assert.Equal(keyless ? null : ProviderClients.ApiKey, ours.Headers.GetValueOrDefault("api-key"));
        Assert.Equal(Sorted(sdk.Body)!.ToJsonString(), Sorted(ours.Body)!.ToJsonString());
        Assert.Equal(321, ours.Body["max_output_tokens"]!.GetValue<int>());
        Assert.Equal(effort, ours.Body["reasoning"]?["effort"]?.GetValue<string>());
    }

    public static TheoryData<string, FakeScript> Replies() => new()
    {
        { "stop, summary, reasoning tokens", new FakeScript { Tokens = ["Hé", " \"quoted\"", " \\n", " 🙂", " <b>"], ReasoningSummary = ["**Weighing**", " it"], ReasoningTokens = 40, PromptTokens = 12 } },
        { "length", new FakeScript { Tokens = ["cut", " short"], FinishReason = "length", ReasoningTokens = 7, PromptTokens = 9 } },
        { "content_filter", new FakeScript { Tokens = ["filtered"], FinishReason = "content_filter" } },
        { "no usage", new FakeScript { Tokens = ["a", " b"], IncludeUsage = false } },
        { "cut after the first token", new FakeScript { Tokens = ["a", " b", " c"], EndAfterTokens = 1 } },
        { "cut before the ending event", new FakeScript { Tokens = ["a", " b"], EndAfterFinishReason = true } },
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public async Task Text_reasoning_finish_reason_usage_model_and_id_match_the_sdk_adapter(string name, FakeScript script)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(script, script);

        var (sdkUpdates, sdkError) = await ProviderClients.ReadAsync(clients.ResponsesSdkAdapter(reasoningEffort: "low"));
        var (ourUpdates, ourError) = await ProviderClients.ReadAsync(clients.Responses(reasoningEffort: "low"));

        Assert.Null(sdkError);
        Assert.Null(ourError);
        Assert.True(Deltas(sdkUpdates).SequenceEqual(Deltas(ourUpdates)), $"{name}: the deltas differ");
        var expectedTokens = script.EndAfterTokens >= 0 ? script.Tokens.Take(script.EndAfterTokens) : script.Tokens;
        Assert.Equal(script.ReasoningSummary.Select(r => ("reasoning", r)).Concat(expectedTokens.Select(t => ("text", t))), Deltas(ourUpdates));
        var sdk = sdkUpdates.ToChatResponse();
        var ours = ourUpdates.ToChatResponse();
        Assert.Equal(sdk.FinishReason, ours.FinishReason);
        var complete = script.EndAfterTokens < 0 && !script.EndAfterFinishReason;
        Assert.Equal(complete ? new ChatFinishReason(script.FinishReason) : null, ours.FinishReason);
        Assert.Equal(sdk.ModelId, ours.ModelId);
        Assert.Equal(ProviderClients.Deployment, ours.ModelId);
        // Each request gets its own response id from the fake: the same kind, not the same value.
        Assert.StartsWith("resp_", sdk.ResponseId, StringComparison.Ordinal);
        Assert.StartsWith("resp_", ours.ResponseId, StringComparison.Ordinal);
        Assert.Equal(UsageOf(sdk), UsageOf(ours));
        if (complete && script.IncludeUsage)
        {
            var output = script.Tokens.Count + script.ReasoningTokens;
            Assert.Equal((script.PromptTokens, output, script.PromptTokens + output, script.ReasoningTokens), UsageOf(ours));
        }
        else
        {
            Assert.Null(ours.Usage);
        }

        Assert.Equal(ChatRole.Assistant, Assert.Single(ours.Messages).Role);
    }

    public static TheoryData<FakeScript, string, bool> StreamFailures() => new()
    {
        { new FakeScript { Tokens = ["a", " b"], ResponseFailedCode = "server_error" }, StreamError.Codes.UpstreamUnavailable, true },
        { new FakeScript { Tokens = ["a", " b"], ResponseFailedCode = "rate_limit_exceeded" }, StreamError.Codes.RateLimited, true },
        { new FakeScript { Tokens = ["a", " b"], ResponseFailedCode = "invalid_request_error" }, StreamError.Codes.UpstreamError, false },
        { new FakeScript { Tokens = ["a", " b"], StreamErrorAfterTokens = 1, StreamErrorCode = "server_error" }, StreamError.Codes.UpstreamUnavailable, true },
        { new FakeScript { Tokens = ["a", " b"], StreamErrorAfterTokens = 0, StreamErrorCode = "rate_limit_exceeded" }, StreamError.Codes.RateLimited, true },
        { new FakeScript { Tokens = ["a", " b"], StreamErrorAfterTokens = 2, StreamErrorCode = "invalid_request_error" }, StreamError.Codes.UpstreamError, false },
        { new FakeScript { NonStreamBody = "<html>gateway</html>" }, StreamError.Codes.UpstreamError, true },
    };

    [Theory]
    [MemberData(nameof(StreamFailures))]
    public async Task Failed_responses_error_events_and_a_page_instead_of_a_stream_throw_as_for_the_sdk_adapter(FakeScript script, string code, bool retryable)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        fake.Enqueue(script, script);

        var (sdkUpdates, sdkError) = await ProviderClients.ReadAsync(clients.ResponsesSdkAdapter());
        var (ourUpdates, ourError) = await ProviderClients.ReadAsync(clients.Responses());

        Assert.Equal(Deltas(sdkUpdates), Deltas(ourUpdates));
        Assert.DoesNotContain(ourUpdates, u => u.FinishReason is not null);
        var sdk = Assert.IsType<ChatUpstreamException>(sdkError);
        var ours = Assert.IsType<ChatUpstreamException>(ourError);
        Assert.Equal(sdk.Error, ours.Error);
        Assert.Equal(sdk.Status, ours.Status);
        Assert.Equal((code, retryable), (ours.Error.Code, ours.Error.Retryable));
        Assert.DoesNotContain("scripted failure", ours.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(429, "retry-after-ms", "1500", "rate_limited")]
    [InlineData(500, null, null, "upstream_unavailable")]
    [InlineData(401, null, null, "upstream_error")]
    public async Task Http_errors_are_mapped_exactly_as_for_the_sdk_adapter(int status, string? header, string? value, string code)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        var script = header is null ? FakeScript.Failure(status) : FakeScript.Failure(status, (header, value!));
        fake.Enqueue(script, script);

        var (_, sdkError) = await ProviderClients.ReadAsync(clients.ResponsesSdkAdapter());
        var (updates, ourError) = await ProviderClients.ReadAsync(clients.Responses());

        Assert.Empty(updates);
        var sdk = Assert.IsType<ChatUpstreamException>(sdkError);
        var ours = Assert.IsType<ChatUpstreamException>(ourError);
        Assert.Equal(sdk.Error, ours.Error);
        Assert.Equal(sdk.Status, ours.Status);
        Assert.Equal((code, status), (ours.Error.Code, ours.Status));
    }

    [Fact]
    public async Task Both_tell_the_relay_once_that_the_model_accepted_the_request_before_the_first_update()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        var script = new FakeScript { Tokens = ["a", " b"], ReasoningSummary = ["thinking"] };
        fake.Enqueue(script, script);

        var sdk = await AcceptedBeforeUpdatesAsync(clients.ResponsesSdkAdapter(reasoningEffort: "low"));
        var ours = await AcceptedBeforeUpdatesAsync(clients.Responses(reasoningEffort: "low"));

        Assert.Equal((1, 0), sdk);
        Assert.Equal(sdk, ours);
    }

    /// <summary>How often Accepted was called, and how many updates had arrived at the first call.</summary>
    private static async Task<(int Calls, int UpdatesBefore)> AcceptedBeforeUpdatesAsync(IChatClient client)
    {
        var calls = 0;
        var updatesBefore = -1;
        var updates = 0;
        ModelCallProgress.Current = new ModelCallProgress(() =>
        {
            calls++;
            if (updatesBefore < 0)
            {
                updatesBefore = updates;
            }
        });
        try
        {
            await foreach (var _ in client.GetStreamingResponseAsync(ProviderClients.Messages(), ProviderClients.Options()))
            {
                updates++;
            }
        }
        finally
        {
            ModelCallProgress.Current = null;
        }

        return (calls, updatesBefore);
    }

    /// <summary>The deltas in order, each as its kind and text; updates with neither are left out.</summary>
    private static List<(string Kind, string Text)> Deltas(IEnumerable<ChatResponseUpdate> updates) =>
        updates.SelectMany(u => u.Contents).Select(c => c switch
        {
            TextContent t => (Kind: "text", Text: t.Text),
            TextReasoningContent r => (Kind: "reasoning", Text: r.Text),
            _ => (Kind: "", Text: ""),
        }).Where(d => d.Text.Length > 0).ToList();

    private static (long?, long?, long?, long?)? UsageOf(ChatResponse response) =>
        response.Usage is { } u ? (u.InputTokenCount, u.OutputTokenCount, u.TotalTokenCount, u.ReasoningTokenCount) : null;

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Sorted).ToArray()),
        null => null,
        _ => JsonNode.Parse(node.ToJsonString()),
    };

    private sealed class StaticTokenCredential(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
