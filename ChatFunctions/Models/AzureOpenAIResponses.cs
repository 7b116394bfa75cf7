using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Azure.Core;
using ChatFunctions.Configuration;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Responses;

// The OpenAI SDK marks its whole Responses surface (client, update types, options) for evaluation: it is the API this
// file exists to use, pinned to a version tested here (Directory.Packages.props).
#pragma warning disable OPENAI001

namespace ChatFunctions.Models;

/// <summary>
/// Azure OpenAI's v1 Responses API (CHAT_API=responses): POST {endpoint}/openai/v1/responses through the OpenAI SDK's
/// <see cref="ResponsesClient"/> pipeline. What the app uses is <see cref="ResponsesProtocolChatClient"/> (the SDK's
/// protocol-level call, our parse of the stream); the SDK's own types (Microsoft.Extensions.AI's adapter, which turns
/// reasoning summaries into <see cref="TextReasoningContent"/>, plus <see cref="ResponsesEndingsChatClient"/>) are the
/// reference it is tested and measured against. Azure.AI.OpenAI's own responses client is not used: the pinned
/// 2.9.0-beta.1 calls a constructor OpenAI 2.14.0 no longer has (MissingMethodException), and the v1 API needs no
/// api-version, so the plain client pointed at /openai/v1/ with our own authentication policy does the same.
/// </summary>
public static class AzureOpenAIResponses
{
    /// <summary>The model client for <see cref="ChatModelProviderFactory"/>: the SDK's pipeline, our parse of the stream.</summary>
    public static IChatClient Create(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential, string? reasoningEffort)
    {
        var client = CreateSdkClient(options, httpClient, credential, new OpenAIClientOptions());
        // The SDK adapter's own metadata (provider name, endpoint, model), so the telemetry middleware's spans and
        // metrics keep the attributes they had.
        using var adapter = client.AsIChatClient(options.ChatDeployment!);
        var metadata = adapter.GetService<ChatClientMetadata>() ?? new ChatClientMetadata("openai", defaultModelId: options.ChatDeployment);
        return new ResponsesProtocolChatClient(client, options.ChatDeployment!, metadata, reasoningEffort);
    }

    /// <summary>
    /// The SDK's own types for the same API: Microsoft.Extensions.AI's adapter, our ending rules, the SDK boundary.
    /// The reference <see cref="ResponsesProtocolChatClient"/> is tested and measured against.
    /// </summary>
    public static IChatClient CreateSdkAdapter(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential, string? reasoningEffort)
    {
        var client = CreateSdkClient(options, httpClient, credential, new OpenAIClientOptions().WithPolicy(EventStreamPolicy.Instance));
        var adapter = client.AsIChatClient(options.ChatDeployment!);
        if (!string.IsNullOrEmpty(reasoningEffort))
        {
            // The effort as the API spells it (Microsoft.Extensions.AI's levels have no "minimal"), and summaries
            // streamed as the model reasons ("auto": the most detailed summarizer the model has).
            var effort = new ResponseReasoningEffortLevel(reasoningEffort);
            adapter = adapter.AsBuilder()
                .ConfigureOptions(o => o.RawRepresentationFactory = _ => new CreateResponseOptions
                {
                    ReasoningOptions = new ResponseReasoningOptions
                    {
                        ReasoningEffortLevel = effort,
                        ReasoningSummaryVerbosity = ResponseReasoningSummaryVerbosity.Auto,
                    },
                })
                .Build();
        }

        return new SdkBoundaryChatClient(new ResponsesEndingsChatClient(adapter));
    }

    private static ResponsesClient CreateSdkClient(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential, OpenAIClientOptions clientOptions)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(credential);
        AuthenticationPolicy auth = string.IsNullOrEmpty(options.ApiKey)
            ? new AzureBearerTokenPolicy(credential())
            : new AzureApiKeyPolicy(options.ApiKey);
        clientOptions.Endpoint = V1Endpoint(options.Endpoint!);
        clientOptions.Transport = new HttpClientPipelineTransport(httpClient);
        // Retries happen in ChatStreamer (before the first token, within a budget); its idle timeout bounds the
        // waits, so the SDK's own network timeout would only re-arm a timer on every read.
        clientOptions.RetryPolicy = new ClientRetryPolicy(maxRetries: 0);
        clientOptions.NetworkTimeout = Timeout.InfiniteTimeSpan;
        return new OpenAIClient(auth, clientOptions).GetResponsesClient();
    }

    /// <summary>{endpoint}/openai/v1/: the v1 API's base, whatever path the configured endpoint already has.</summary>
    public static Uri V1Endpoint(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return new Uri(new Uri(endpoint.GetLeftPart(UriPartial.Authority) + "/"), "openai/v1/");
    }
}

/// <summary>
/// The SDK adapter's Responses stream endings, made as truthful as the Chat Completions path's (the reference for
/// <see cref="ResponsesStreamParser"/>, which applies the same rules). Microsoft.Extensions.AI's adapter
/// reports a finish reason and usage for <c>response.completed</c> only; it passes <c>response.incomplete</c> and
/// <c>response.failed</c> through with no content and an in-stream <c>error</c> event as an <see cref="ErrorContent"/>.
/// Here, from the SDK's own update objects (the adapter's RawRepresentation, read before the SDK boundary drops it):
/// <list type="bullet">
/// <item><c>response.incomplete</c>: finish reason <c>length</c> (max_output_tokens) or <c>content_filter</c>, and
/// its usage, so the budget settles to what was spent.</item>
/// <item><c>response.failed</c> and <c>error</c>: a <see cref="ChatUpstreamException"/> classified by its code, as an
/// error object in a Chat Completions stream is, with our generic message (the service's can quote the prompt).</item>
/// <item>The first update (<c>response.created</c>, sent when the service accepts the request) tells the relay the
/// model is thinking (<see cref="ModelCallProgress"/>).</item>
/// </list>
/// A body that ends with none of these has no finish reason, which the relay reports as incomplete.
/// </summary>
public sealed class ResponsesEndingsChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Activity.Current?.SetTag("openai.api.type", "responses");
        var accepted = false;
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).WithCancellation(cancellationToken))
        {
            if (!accepted)
            {
                accepted = true;
                ModelCallProgress.Current?.Accepted();
            }

            yield return Map(update);
        }
    }

    /// <summary>One update with the ending rules applied; public for the unit tests of the mapping.</summary>
    public static ChatResponseUpdate Map(ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        switch (update.RawRepresentation)
        {
            case StreamingResponseIncompleteUpdate incomplete:
                update.FinishReason = incomplete.Response.IncompleteStatusDetails?.Reason == ResponseIncompleteStatusReason.ContentFilter
                    ? ChatFinishReason.ContentFilter
                    : ChatFinishReason.Length;
                if (incomplete.Response.Usage is { } usage)
                {
                    update.Contents.Add(new UsageContent(ToUsageDetails(usage)));
                }

                return update;
            case StreamingResponseFailedUpdate failed:
                throw UpstreamErrorClassifier.FromStreamError("response.failed", failed.Response.Error?.Code.ToString());
            case StreamingResponseErrorUpdate error:
                throw UpstreamErrorClassifier.FromStreamError("error", error.Code);
            default:
                foreach (var content in update.Contents)
                {
                    if (content is ErrorContent e)
                    {
                        throw UpstreamErrorClassifier.FromStreamError("error", e.ErrorCode);
                    }
                }

                return update;
        }
    }

    private static UsageDetails ToUsageDetails(ResponseTokenUsage usage) => new()
    {
        InputTokenCount = usage.InputTokenCount,
        OutputTokenCount = usage.OutputTokenCount,
        TotalTokenCount = usage.TotalTokenCount,
        ReasoningTokenCount = usage.OutputTokenDetails?.ReasoningTokenCount,
    };
}

/// <summary>
/// For the SDK adapter: a 200 that is not an event stream is not the model talking (a proxy's or gateway's page): fail
/// before any text, as the protocol clients do, instead of letting the SDK read a page as an empty stream.
/// </summary>
internal sealed class EventStreamPolicy : PipelinePolicy
{
    public static readonly EventStreamPolicy Instance = new();

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ArgumentNullException.ThrowIfNull(message);
        ProcessNext(message, pipeline, currentIndex);
        Check(message);
    }

    public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ArgumentNullException.ThrowIfNull(message);
        await ProcessNextAsync(message, pipeline, currentIndex);
        Check(message);
    }

    private static void Check(PipelineMessage message)
    {
        if (message.Response is not { Status: 200 } response)
        {
            return;
        }

        var contentType = response.Headers.TryGetValue("Content-Type", out var value) ? value : null;
        if (contentType is null || !contentType.TrimStart().StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            response.Dispose();
            throw new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamError,
                "The model service answered with something other than an event stream.", Retryable: true),
                new InvalidDataException($"HTTP 200 with content type '{contentType ?? "(none)"}' instead of text/event-stream."))
            {
                Status = 200,
            };
        }
    }
}

internal static class OpenAIClientOptionsExtensions
{
    /// <summary>Adds a policy that sees each response before the SDK reads it.</summary>
    public static OpenAIClientOptions WithPolicy(this OpenAIClientOptions options, PipelinePolicy policy)
    {
        options.AddPolicy(policy, PipelinePosition.BeforeTransport);
        return options;
    }
}

/// <summary>Azure OpenAI's key header for the v1 API (the OpenAI client would send the key as a bearer token).</summary>
internal sealed class AzureApiKeyPolicy(string key) : AuthenticationPolicy
{
    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ArgumentNullException.ThrowIfNull(message);
        message.Request.Headers.Set("api-key", key);
        ProcessNext(message, pipeline, currentIndex);
    }

    public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ArgumentNullException.ThrowIfNull(message);
        message.Request.Headers.Set("api-key", key);
        return ProcessNextAsync(message, pipeline, currentIndex);
    }
}

/// <summary>
/// Keyless: a Microsoft Entra ID token for Cognitive Services from the app's <see cref="TokenCredential"/>, cached until
/// five minutes before it expires (a developer credential may start a process for each token). System.ClientModel's own
/// BearerTokenPolicy refuses http outright; this one allows it for loopback only (a local stand-in for the service),
/// so a token never crosses a network unencrypted.
/// </summary>
internal sealed class AzureBearerTokenPolicy(TokenCredential credential) : AuthenticationPolicy
{
    private static readonly TokenRequestContext Scope = new(["https://cognitiveservices.azure.com/.default"]);
    // Boxed so that a reader sees a whole token or none (a struct field could be read half-written).
    private volatile StrongBox<AccessToken>? _token;

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex) =>
        ProcessAsync(message, pipeline, currentIndex).AsTask().GetAwaiter().GetResult();

    public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ArgumentNullException.ThrowIfNull(message);
        var uri = message.Request.Uri!;
        if (uri.Scheme != Uri.UriSchemeHttps && !uri.IsLoopback)
        {
            throw new InvalidOperationException("A bearer token is sent over https only (or http to loopback): set AZURE_OPENAI_ENDPOINT to an https:// URL.");
        }

        var token = await TokenAsync(message.CancellationToken);
        message.Request.Headers.Set("Authorization", "Bearer " + token);
        await ProcessNextAsync(message, pipeline, currentIndex);
    }

    private async ValueTask<string> TokenAsync(CancellationToken cancellationToken)
    {
        // Two replies that find it stale at once may both fetch one; the credential copes, and no lock is held.
        if (_token is not { } box || box.Value.ExpiresOn <= DateTimeOffset.UtcNow.AddMinutes(5))
        {
            box = new StrongBox<AccessToken>(await credential.GetTokenAsync(Scope, cancellationToken));
            _token = box;
        }

        return box.Value.Token;
    }
}
