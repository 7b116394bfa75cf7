using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Azure.Core;
using ChatFunctions.Models;
using ChatFunctions.Tests.Diagnostics;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// <see cref="OpenAIProtocolChatClient"/> must do everything the SDK's own adapter did: the same request on the wire
/// (path, api-version, auth, body), the same updates' text, usage and finish reason through Azure's quirks, the same
/// error mapping, and the same OpenTelemetry GenAI metrics and span attributes from the telemetry middleware (ChatClientTelemetry).
/// Each case runs both clients against the same fake server and compares.
/// </summary>
[Trait("Category", "Wire")]
[Collection(RunsAloneTelemetry.Name)]
public sealed class ProtocolClientEquivalenceTests
{
    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI, false)]
    [InlineData(UpstreamProvider.AzureOpenAI, true)]
    [InlineData(UpstreamProvider.OpenAICompatible, false)]
    public async Task The_request_path_auth_and_body_are_those_the_sdk_adapter_sends(UpstreamProvider provider, bool keyless)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        var credential = keyless ? new StaticTokenCredential("fake-entra-token") : null;

        var (_, sdkError) = await ProviderClients.ReadAsync(clients.SdkAdapter(provider, credential));
        var (_, ourError) = await ProviderClients.ReadAsync(clients.Protocol(provider, credential));

        Assert.Null(sdkError);
        Assert.Null(ourError);
        var requests = fake.Requests.ToList();
        Assert.Equal(2, requests.Count);
        var (sdk, ours) = (requests[0], requests[1]);
        Assert.Equal(sdk.PathAndQuery, ours.PathAndQuery);
        foreach (var header in new[] { "api-key", "Authorization", "Content-Type", "Accept" })
        {
            Assert.Equal(sdk.Headers.GetValueOrDefault(header), ours.Headers.GetValueOrDefault(header));
        }

        Assert.Equal(Normalize(sdk.Body), Normalize(ours.Body));
        if (provider == UpstreamProvider.AzureOpenAI)
        {
            Assert.Matches(@"^/openai/deployments/chat-test/chat/completions\?api-version=[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$", ours.PathAndQuery);
            Assert.Equal(keyless ? "Bearer fake-entra-token" : null, ours.Headers.GetValueOrDefault("Authorization"));
            Assert.Equal(keyless ? null : ProviderClients.ApiKey, ours.Headers.GetValueOrDefault("api-key"));
        }
        else
        {
            Assert.Equal("/v1/chat/completions", ours.PathAndQuery);
            Assert.Equal($"Bearer {ProviderClients.ApiKey}", ours.Headers["Authorization"]);
        }

        Assert.Equal(321, ours.Body["max_completion_tokens"]!.GetValue<int>());
        Assert.True(ours.Body["stream"]!.GetValue<bool>());
        Assert.True(ours.Body["stream_options"]!["include_usage"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI, "stop")]
    [InlineData(UpstreamProvider.AzureOpenAI, "content_filter")]
    [InlineData(UpstreamProvider.AzureOpenAI, "length")]
    [InlineData(UpstreamProvider.OpenAICompatible, "stop")]
    public async Task Text_usage_finish_reason_model_and_response_id_match_the_sdk_adapter_through_azures_quirks(UpstreamProvider provider, string finishReason)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        // Prompt-filter chunk with empty choices first, a filter-only chunk after every token, usage on an empty-choices chunk.
        var script = new FakeScript { Tokens = ["Hé", " \"quoted\"", " \\n", " 🙂", " <b>"], FinishReason = finishReason, FilterChunkEvery = 1 };
        fake.Enqueue(script, script);

        var (sdkUpdates, sdkError) = await ProviderClients.ReadAsync(clients.SdkAdapter(provider));
        var (ourUpdates, ourError) = await ProviderClients.ReadAsync(clients.Protocol(provider));

        Assert.Null(sdkError);
        Assert.Null(ourError);
        Assert.Equal(ProviderClients.Text(sdkUpdates), ProviderClients.Text(ourUpdates));
        Assert.Equal(string.Concat(script.Tokens), ProviderClients.Text(ourUpdates));
        Assert.Equal(script.Tokens, ourUpdates.Where(u => u.Text.Length > 0).Select(u => u.Text));
        var sdk = sdkUpdates.ToChatResponse();
        var ours = ourUpdates.ToChatResponse();
        Assert.Equal(sdk.FinishReason, ours.FinishReason);
        Assert.Equal(new ChatFinishReason(finishReason), ours.FinishReason);
        Assert.Equal(sdk.ModelId, ours.ModelId);
        Assert.Equal(script.Model, ours.ModelId);
        Assert.StartsWith("chatcmpl-", ours.ResponseId, StringComparison.Ordinal);
        Assert.NotNull(sdk.Usage);
        Assert.NotNull(ours.Usage);
        Assert.Equal(sdk.Usage.InputTokenCount, ours.Usage.InputTokenCount);
        Assert.Equal(sdk.Usage.OutputTokenCount, ours.Usage.OutputTokenCount);
        Assert.Equal(sdk.Usage.TotalTokenCount, ours.Usage.TotalTokenCount);
        Assert.Equal(script.PromptTokens + script.Tokens.Count, ours.Usage.TotalTokenCount);
        Assert.Equal(ChatRole.Assistant, Assert.Single(ours.Messages).Role);
    }

    [Theory]
    [InlineData(429, "retry-after-ms", "1500", "rate_limited")]
    [InlineData(429, "retry-after", "86400", "rate_limited")]
    [InlineData(500, null, null, "upstream_unavailable")]
    [InlineData(503, "retry-after", "3", "upstream_unavailable")]
    [InlineData(401, null, null, "upstream_error")]
    [InlineData(404, null, null, "upstream_error")]
    public async Task Http_errors_are_mapped_exactly_as_for_the_sdk_adapter(int status, string? header, string? value, string code)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        var script = header is null ? FakeScript.Failure(status) : FakeScript.Failure(status, (header, value!));
        fake.Enqueue(script, script);

        var (_, sdkError) = await ProviderClients.ReadAsync(clients.SdkAdapter(UpstreamProvider.AzureOpenAI));
        var (updates, ourError) = await ProviderClients.ReadAsync(clients.Protocol(UpstreamProvider.AzureOpenAI));

        Assert.Empty(updates);
        var sdk = Assert.IsType<ChatUpstreamException>(sdkError);
        var ours = Assert.IsType<ChatUpstreamException>(ourError);
        Assert.Equal(sdk.Error, ours.Error);
        Assert.Equal(sdk.Status, ours.Status);
        Assert.Equal(code, ours.Error.Code);
        Assert.Equal(status, ours.Status);
    }

    [Fact]
    public async Task A_prompt_rejected_by_the_content_filter_is_a_non_retryable_400_and_its_body_reaches_no_exception_text()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        // Azure's answer when the prompt itself trips the filter: 400, code content_filter, the body quoting the policy.
        var body = """{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. zqx-secret-prompt","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}""";
        var script = new FakeScript { Status = 400, ErrorBody = body };
        fake.Enqueue(script, script);

        var (_, sdkError) = await ProviderClients.ReadAsync(clients.SdkAdapter(UpstreamProvider.AzureOpenAI));
        var (_, ourError) = await ProviderClients.ReadAsync(clients.Protocol(UpstreamProvider.AzureOpenAI));

        var sdk = Assert.IsType<ChatUpstreamException>(sdkError);
        var ours = Assert.IsType<ChatUpstreamException>(ourError);
        Assert.Equal(sdk.Error, ours.Error);
        Assert.Equal("upstream_error", ours.Error.Code);
        Assert.False(ours.Error.Retryable);
        Assert.Equal(400, ours.Status);
        Assert.DoesNotContain("zqx-secret-prompt", ours.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("zqx-secret-prompt", UpstreamErrorClassifier.ForLogging(ours).ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UpstreamProvider.AzureOpenAI)]
    [InlineData(UpstreamProvider.OpenAICompatible)]
    public async Task The_genai_metrics_and_span_attributes_of_the_telemetry_middleware_match_the_sdk_adapter(UpstreamProvider provider)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        using var clients = new ProviderClients(fake);
        await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var script = new FakeScript { Tokens = ["a", " b", " c"], FinishReason = "content_filter", PromptTokens = 17 };
        fake.Enqueue(script, script);

        var sdk = await RecordTelemetryAsync(new ChatClientTelemetry().Build(clients.SdkAdapter(provider), services));
        var ours = await RecordTelemetryAsync(new ChatClientTelemetry().Build(clients.Protocol(provider), services));

        // The same instruments, each with the same measurements' tags; token counts equal, durations only present.
        Assert.Equal(sdk.Measurements.Select(m => m.Instrument).Distinct().Order(), ours.Measurements.Select(m => m.Instrument).Distinct().Order());
        Assert.Contains(ours.Measurements, m => m.Instrument == "gen_ai.client.token.usage");
        Assert.Contains(ours.Measurements, m => m.Instrument == "gen_ai.client.operation.duration");
        Assert.Equal(TokenUsage(sdk), TokenUsage(ours));
        Assert.Equal([("input", 17.0), ("output", 3.0)], TokenUsage(ours).Select(t => (t.Type, t.Value)));
        foreach (var instrument in new[] { "gen_ai.client.operation.duration", "gen_ai.client.token.usage" })
        {
            Assert.Equal(
                instrument + ": " + string.Join(" | ", sdk.Measurements.Where(m => m.Instrument == instrument).Select(m => m.Tags).Distinct().Order()),
                instrument + ": " + string.Join(" | ", ours.Measurements.Where(m => m.Instrument == instrument).Select(m => m.Tags).Distinct().Order()));
        }

        // Chunk timings differ on purpose: the SDK adapter yields an empty update for Azure's prompt-filter chunk (no
        // model yet) and for every filter-only chunk, so its "first chunk" is the filter verdict, not output. Ours are
        // timed on updates that carry text, usage or the finish reason, and all carry the response model.
        var firstChunk = Assert.Single(ours.Measurements, m => m.Instrument == "gen_ai.client.operation.time_to_first_chunk");
        Assert.Contains($"gen_ai.response.model={script.Model}", firstChunk.Tags, StringComparison.Ordinal);
        Assert.Equal(script.Tokens.Count + 1, ours.Measurements.Count(m => m.Instrument == "gen_ai.client.operation.time_per_output_chunk"));
        Assert.Equal(
            sdk.Measurements.Where(m => m.Instrument.Contains("chunk", StringComparison.Ordinal)).Select(m => m.Instrument + " " + WithoutResponseModel(m.Tags)).Distinct().Order(),
            ours.Measurements.Where(m => m.Instrument.Contains("chunk", StringComparison.Ordinal)).Select(m => m.Instrument + " " + WithoutResponseModel(m.Tags)).Distinct().Order());

        var expectedModel = provider == UpstreamProvider.AzureOpenAI ? ProviderClients.Deployment : ProviderClients.CompatibleModel;
        Assert.All(TokenUsageTags(ours), tags =>
        {
            Assert.Contains($"gen_ai.request.model={expectedModel}", tags, StringComparison.Ordinal);
            Assert.Contains($"gen_ai.response.model={script.Model}", tags, StringComparison.Ordinal);
        });

        // The span: same attributes, ids (each request gets its own) and timings aside.
        Assert.Equal(Lines(Without(sdk.SpanTags, "gen_ai.response.id")), Lines(Without(ours.SpanTags, "gen_ai.response.id")));
        Assert.Equal("[\"content_filter\"]", ours.SpanTags["gen_ai.response.finish_reasons"]);
        Assert.Equal("17", ours.SpanTags["gen_ai.usage.input_tokens"]);
        Assert.Equal("3", ours.SpanTags["gen_ai.usage.output_tokens"]);
        Assert.StartsWith("chatcmpl-", ours.SpanTags["gen_ai.response.id"], StringComparison.Ordinal);
    }

    private static async Task<Recorded> RecordTelemetryAsync(IChatClient client)
    {
        var measurements = new ConcurrentQueue<(string Instrument, double Value, string Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ChatClientTelemetry.SourceName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var text = string.Join(";", tags.ToArray().Select(t => $"{t.Key}={t.Value}").Order());
            measurements.Enqueue((instrument.Name, value, text));
        }

        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        meters.Start();
        Activity? span = null;
        using var spans = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ChatClientTelemetry.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => span = a,
        };
        ActivitySource.AddActivityListener(spans);

        var (_, error) = await ProviderClients.ReadAsync(client);

        Assert.Null(error);
        Assert.NotNull(span);
        var spanTags = span.TagObjects.ToDictionary(t => t.Key, t => t.Value switch
        {
            string[] values => "[" + string.Join(",", values.Select(v => $"\"{v}\"")) + "]",
            var v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        });
        return new Recorded([.. measurements], spanTags);
    }

    private static List<(string Type, double Value, string Tags)> TokenUsage(Recorded recorded) =>
        recorded.Measurements.Where(m => m.Instrument == "gen_ai.client.token.usage")
            .Select(m => (Type: m.Tags.Split(';').Single(t => t.StartsWith("gen_ai.token.type=", StringComparison.Ordinal))["gen_ai.token.type=".Length..], m.Value, m.Tags))
            .OrderBy(t => t.Type, StringComparer.Ordinal).ToList();

    private static IEnumerable<string> TokenUsageTags(Recorded recorded) => TokenUsage(recorded).Select(t => t.Tags);

    private static string Lines(Dictionary<string, string> tags) => string.Join("\n", tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));

    private static string WithoutResponseModel(string tags) =>
        string.Join(";", tags.Split(';').Where(t => !t.StartsWith("gen_ai.response.model=", StringComparison.Ordinal)));

    private static Dictionary<string, string> Without(Dictionary<string, string> tags, string key) =>
        tags.Where(t => t.Key != key).ToDictionary(t => t.Key, t => t.Key.Contains("time", StringComparison.Ordinal) ? "(a duration)" : t.Value);

    /// <summary>The body as sorted JSON with message content as plain text (the SDK may send text parts as an array).</summary>
    private static string Normalize(JsonObject body)
    {
        var copy = JsonNode.Parse(body.ToJsonString())!.AsObject();
        foreach (var message in copy["messages"]!.AsArray())
        {
            if (message!["content"] is JsonArray parts)
            {
                message["content"] = string.Concat(parts.Select(p => p!["text"]!.GetValue<string>()));
            }
        }

        return Sorted(copy)!.ToJsonString();
    }

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Sorted).ToArray()),
        null => null,
        _ => JsonNode.Parse(node.ToJsonString()),
    };

    private sealed record Recorded(List<(string Instrument, double Value, string Tags)> Measurements, Dictionary<string, string> SpanTags);

    private sealed class StaticTokenCredential(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
