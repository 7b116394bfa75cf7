using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace ChatFunctions.Models;

/// <summary>
/// Chat completions for Azure OpenAI and OpenAI-compatible servers without the SDK's model objects per chunk.
/// The request goes through the SDK's protocol-level call (<see cref="ChatClient.CompleteChatAsync(BinaryContent, RequestOptions)"/>),
/// so the SDK's pipeline still owns the URL, api-version, auth (api-key or bearer from the TokenCredential) and the
/// no-drain transport; the event stream's bytes are then read with <see cref="SseParser"/> and a
/// <see cref="System.Text.Json.Utf8JsonReader"/> (<see cref="ChatCompletionChunkParser"/>), which yields only what the
/// relay and the telemetry middleware read: text, usage, finish reason, model and response id.
/// <para>Truthful endings: the finish reason is reported only once <c>data: [DONE]</c> arrived, so a stream cut short
/// (with or without a finish_reason chunk) yields no <see cref="ChatResponseUpdate.FinishReason"/>; an in-stream error
/// object and a 200 answer that is not an event stream (a proxy's HTML page) throw <see cref="ChatUpstreamException"/>.</para>
/// <para>Errors leave this class as <see cref="ChatUpstreamException"/>s with our generic messages: the SDK's
/// exceptions carry the service's error body, which may quote the prompt (see <see cref="SdkBoundaryChatClient"/>).</para>
/// </summary>
public sealed class OpenAIProtocolChatClient : IChatClient
{
    private readonly ChatClient _sdkClient;
    private readonly string _model;
    private readonly ChatClientMetadata _metadata;
    private readonly string? _reasoningEffort;

    /// <param name="sdkClient">The SDK's chat client (AzureOpenAIClient's or OpenAIClient's): its pipeline sends the request.</param>
    /// <param name="model">The deployment (Azure) or model name sent as "model".</param>
    /// <param name="metadata">What the telemetry middleware reports as provider, server and model: the SDK adapter's own, so spans and metrics keep their attributes.</param>
    /// <param name="reasoningEffort">Sent as <c>reasoning_effort</c> with every request; null or empty sends nothing.</param>
    public OpenAIProtocolChatClient(ChatClient sdkClient, string model, ChatClientMetadata metadata, string? reasoningEffort = null)
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
        Activity.Current?.SetTag("openai.api.type", "chat_completions");
        var response = await SendAsync(messages, options, cancellationToken);
        var parser = new ChatCompletionChunkParser();
        await foreach (var update in ReadEventStreamAsync(response, parser.Parse, () => parser.Done, cancellationToken))
        {
            yield return update;
        }
    }

    /// <summary>
    /// The updates of an event-stream response, parsed by <paramref name="parse"/> until <paramref name="done"/> or the
    /// body's end; disposes the response. Shared with <see cref="ResponsesProtocolChatClient"/>.
    /// </summary>
    internal static async IAsyncEnumerable<ChatResponseUpdate> ReadEventStreamAsync(
        PipelineResponse response, SseItemParser<ChatResponseUpdate?> parse, Func<bool> done, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (response)
        {
            EnsureEventStream(response);
            // A reasoning model sends nothing more until it has thought; the relay shows that wait as thinking.
            ModelCallProgress.Current?.Accepted();

            // Reads pass no token: a cancellable one costs a registration on every read (a chunk is often one read).
            // Instead, cancellation disposes the response, which with draining off (UpstreamTransport) aborts the
            // upstream request at once and fails the pending read. The caller's token carries ChatStreamer's idle
            // timeout, which so bounds each read (the SDK's own network timeout is off: ChatModelProviderFactory).
            using var abort = cancellationToken.UnsafeRegister(static state => ((PipelineResponse)state!).Dispose(), response);
            var events = SseParser.Create(response.ContentStream!, parse).EnumerateAsync(CancellationToken.None).GetAsyncEnumerator(CancellationToken.None);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await events.MoveNextAsync())
                        {
                            // The body ended. After the stream's end marker that is the end of a complete reply;
                            // without it the reply was cut off, and no finish reason tells the relay so.
                            yield break;
                        }
                    }
                    catch (Exception ex) when (cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException("The model call was cancelled.", ex, cancellationToken);
                    }
                    catch (Exception ex) when (ex is not ChatUpstreamException and not OperationCanceledException)
                    {
                        throw UpstreamErrorClassifier.Sanitize(ex);
                    }

                    if (events.Current.Data is { } update)
                    {
                        yield return update;
                    }

                    if (done())
                    {
                        yield break;
                    }
                }
            }
            finally
            {
                await DisposeQuietlyAsync(events);
            }
        }
    }

    /// <summary>Sends the request; its body lives only here, not in the iterator that lives as long as the reply
    /// (and UpstreamTransport lets go of the response's reference to it).</summary>
    private async Task<PipelineResponse> SendAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        using var content = ChatCompletionRequest.Create(messages, options, _model, _reasoningEffort);
        try
        {
            var result = await _sdkClient.CompleteChatAsync(content, new RequestOptions { BufferResponse = false, CancellationToken = cancellationToken });
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

    /// <summary>A 200 that is not an event stream is not the model talking: a proxy's or gateway's page, say. Fail before any text.</summary>
    private static void EnsureEventStream(PipelineResponse response)
    {
        var contentType = response.Headers.TryGetValue("Content-Type", out var value) ? value : null;
        if (contentType is null || !contentType.TrimStart().StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            throw new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamError,
                "The model service answered with something other than an event stream.", Retryable: true),
                new InvalidDataException($"HTTP {response.Status} with content type '{contentType ?? "(none)"}' instead of text/event-stream."))
            {
                Status = response.Status,
            };
        }
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncDisposable events)
    {
        try
        {
            await events.DisposeAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The response was aborted under the reader: nothing left to release.
        }
    }
}
