using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Responses;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;

// The OpenAI SDK marks its whole Responses surface for evaluation: its client sends the request here, pinned to a
// version tested here (Directory.Packages.props).
#pragma warning disable OPENAI001

namespace ChatFunctions.Models;

/// <summary>
/// Azure OpenAI's v1 Responses API (CHAT_API=responses) without the SDK's model objects per event, as
/// <see cref="OpenAIProtocolChatClient"/> does for chat completions: the request goes through the SDK's protocol-level
/// call (<see cref="ResponsesClient.CreateResponseAsync(BinaryContent, RequestOptions)"/>), so the SDK's pipeline
/// still owns the URL, authentication (api-key or the keyless bearer policy) and the no-drain transport; the event
/// stream is read with System.Net.ServerSentEvents and a Utf8JsonReader (<see cref="ResponsesStreamParser"/>).
/// <para>Errors leave this class as <see cref="ChatUpstreamException"/>s with our generic messages: the SDK's
/// exceptions carry the service's error body, which may quote the prompt.</para>
/// </summary>
public sealed class ResponsesProtocolChatClient : IChatClient
{
    private readonly ResponsesClient _sdkClient;
    private readonly string _model;
    private readonly ChatClientMetadata _metadata;
    private readonly string? _reasoningEffort;

    /// <param name="sdkClient">The SDK's responses client: its pipeline sends the request.</param>
    /// <param name="model">The deployment, sent as "model".</param>
    /// <param name="metadata">What the telemetry middleware reports as provider, server and model: the SDK adapter's own.</param>
    /// <param name="reasoningEffort">Sent as <c>reasoning.effort</c> with a summary requested; null or empty sends no reasoning options.</param>
    public ResponsesProtocolChatClient(ResponsesClient sdkClient, string model, ChatClientMetadata metadata, string? reasoningEffort = null)
    {
        ArgumentNullException.ThrowIfNull(sdkClient);
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentNullException.ThrowIfNull(metadata);
        _sdkClient = sdkClient;
        _model = model;
        _metadata = metadata;
        _reasoningEffort = reasoningEffort;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AIChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // The attribute the SDK adapter puts on the telemetry middleware's span (the current activity), kept for dashboards.
        Activity.Current?.SetTag("openai.api.type", "responses");
        var response = await SendAsync(messages, options, cancellationToken);
        var parser = new ResponsesStreamParser();
        await foreach (var update in OpenAIProtocolChatClient.ReadEventStreamAsync(response, parser.Parse, () => parser.Done, cancellationToken))
        {
            yield return update;
        }
    }

    /// <summary>Sends the request; its body lives only here, not in the iterator that lives as long as the reply.</summary>
    private async Task<PipelineResponse> SendAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        using var content = ResponsesRequest.Create(messages, options, _model, _reasoningEffort);
        try
        {
            var requestOptions = new RequestOptions { BufferResponse = false, CancellationToken = cancellationToken };
            // An unbuffered request that accepts text/event-stream opts into System.ClientModel's SSE reconnection: it
            // copies the request body for the reply's life, parses every event a second time (≈ 1.4 KB a token) and,
            // once events carry ids, re-sends the POST with Last-Event-ID after a drop, which a model service answers
            // with a new reply. The relay tells a cut reply as cut instead, so the request accepts what Azure's own
            // chat completions request accepts; the stream is asked for in the body ("stream": true).
            requestOptions.SetHeader("Accept", "application/json");
            var result = await _sdkClient.CreateResponseAsync(content, requestOptions);
            return result.GetRawResponse();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw UpstreamErrorClassifier.Sanitize(ex);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(_sdkClient) ? _sdkClient
            : null;
    }

    public void Dispose()
    {
        // The SDK client and its HttpClient belong to DI (UpstreamHttpClient).
    }
}
