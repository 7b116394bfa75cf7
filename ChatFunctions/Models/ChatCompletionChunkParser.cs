using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// Turns one event of a chat completions stream (the bytes of its data lines) into at most one update, for one stream.
/// Reads only what the relay and the telemetry middleware use; everything else (filter results, offsets, logprobs,
/// fingerprints) is skipped without being materialised. Azure's quirks: a first chunk with <c>"choices": []</c> and
/// only <c>prompt_filter_results</c>, filter-only chunks with no delta, usage on a last chunk with empty choices — all
/// yield nothing or only what they carry.
/// <para>A text chunk costs its string, one <see cref="TextContent"/>, one one-element array and one
/// <see cref="ChatResponseUpdate"/> (an update is handed to whoever consumes the stream, who may keep it, so updates
/// are not reused); model and response ids are allocated once per stream, not per chunk.</para>
/// </summary>
public sealed class ChatCompletionChunkParser
{
    private static readonly ChatFinishReason ToolCalls = ChatFinishReason.ToolCalls;

    private string? _modelId;
    private byte[]? _modelIdUtf8;
    private string? _responseId;
    private byte[]? _responseIdUtf8;
    private string? _systemFingerprint;
    private byte[]? _systemFingerprintUtf8;
    private ChatFinishReason? _finishReason;

    /// <summary>True once <c>data: [DONE]</c> arrived: the reply is complete.</summary>
    public bool Done { get; private set; }

    /// <summary>The finish reason seen so far (reported to the caller only with [DONE]).</summary>
    public ChatFinishReason? FinishReason => _finishReason;

    /// <summary>An <see cref="System.Net.ServerSentEvents.SseItemParser{T}"/>: null for events that carry nothing for us.</summary>
    public ChatResponseUpdate? Parse(string eventType, ReadOnlySpan<byte> data)
    {
        if (Done)
        {
            return null;
        }

        if (data.SequenceEqual("[DONE]"u8))
        {
            Done = true;
            // The finish reason goes out with the end marker: a stream cut between the two is not a complete reply.
            return _finishReason is { } reason ? NewUpdate(null, reason) : null;
        }

        if (data.IsEmpty || data.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }

        try
        {
            return ParseChunk(data, string.Equals(eventType, "error", StringComparison.Ordinal));
        }
        catch (JsonException ex)
        {
            throw new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamError,
                "The model service sent a malformed event stream.", Retryable: true), new InvalidDataException("A stream event is not valid JSON.", ex));
        }
    }

    private ChatResponseUpdate? ParseChunk(ReadOnlySpan<byte> data, bool errorEvent)
    {
        var reader = new Utf8JsonReader(data);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("An event is not a JSON object.");
        }

        if (errorEvent)
        {
            throw StreamErrorFrom(ref reader, errorObjectIsRoot: true);
        }

        string? text = null;
        UsageDetails? usage = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                text = ReadChoices(ref reader);
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                usage = ReadUsage(ref reader);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                CacheString(ref reader, ref _modelId, ref _modelIdUtf8);
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                CacheString(ref reader, ref _responseId, ref _responseIdUtf8);
            }
            else if (reader.ValueTextEquals("system_fingerprint"u8))
            {
                reader.Read();
                if (CacheString(ref reader, ref _systemFingerprint, ref _systemFingerprintUtf8))
                {
                    // As the SDK adapter does: an attribute of the telemetry middleware's span (the current activity).
                    Activity.Current?.SetTag("openai.response.system_fingerprint", _systemFingerprint);
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null)
                {
                    throw StreamErrorFrom(ref reader, errorObjectIsRoot: false);
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (text is null && usage is null)
        {
            return null;
        }

        var update = NewUpdate(text is null ? new UsageContent(usage!) : new TextContent(text), null);
        if (text is not null && usage is not null)
        {
            update.Contents = [update.Contents[0], new UsageContent(usage)];
        }

        return update;
    }

    /// <summary>The text of choice 0's delta, if any; records its finish reason.</summary>
    private string? ReadChoices(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return null;
        }

        string? text = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            var index = 0;
            string? choiceText = null;
            ChatFinishReason? finish = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("index"u8))
                {
                    reader.Read();
                    index = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : 0;
                }
                else if (reader.ValueTextEquals("delta"u8))
                {
                    reader.Read();
                    choiceText = ReadDeltaContent(ref reader);
                }
                else if (reader.ValueTextEquals("finish_reason"u8))
                {
                    reader.Read();
                    finish = reader.TokenType == JsonTokenType.String ? FinishReasonOf(ref reader) : null;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // The app asks for one choice (n = 1); any other index is not ours to relay.
            if (index == 0)
            {
                text = choiceText;
                if (finish is { } f)
                {
                    _finishReason = f;
                }
            }
        }

        return text;
    }

    private static string? ReadDeltaContent(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        string? content = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && (reader.ValueIsEscaped || reader.ValueSpan.Length > 0))
                {
                    content = reader.GetString();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return string.IsNullOrEmpty(content) ? null : content;
    }

    private static ChatFinishReason FinishReasonOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("stop"u8) ? ChatFinishReason.Stop
        : reader.ValueTextEquals("length"u8) ? ChatFinishReason.Length
        : reader.ValueTextEquals("content_filter"u8) ? ChatFinishReason.ContentFilter
        : reader.ValueTextEquals("tool_calls"u8) || reader.ValueTextEquals("function_call"u8) ? ToolCalls
        : new ChatFinishReason(reader.GetString()!);

    private static UsageDetails? ReadUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        var usage = new UsageDetails();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                usage.InputTokenCount = ReadCount(ref reader);
            }
            else if (reader.ValueTextEquals("completion_tokens"u8))
            {
                usage.OutputTokenCount = ReadCount(ref reader);
            }
            else if (reader.ValueTextEquals("total_tokens"u8))
            {
                usage.TotalTokenCount = ReadCount(ref reader);
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8))
            {
                usage.CachedInputTokenCount = ReadDetail(ref reader, "cached_tokens"u8) ?? usage.CachedInputTokenCount;
            }
            else if (reader.ValueTextEquals("completion_tokens_details"u8))
            {
                usage.ReasoningTokenCount = ReadDetail(ref reader, "reasoning_tokens"u8) ?? usage.ReasoningTokenCount;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return usage;
    }

    private static long? ReadCount(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : null;
    }

    private static long? ReadDetail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        long? found = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
            {
                found = ReadCount(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return found;
    }

    /// <summary>
    /// An error object in the stream (<c>data: {"error": {...}}</c>, or an <c>error</c> event): the service failed after
    /// answering 200. Classified by its code and type only; its message may quote the prompt and is never kept.
    /// </summary>
    private static ChatUpstreamException StreamErrorFrom(ref Utf8JsonReader reader, bool errorObjectIsRoot)
    {
        string? type = null;
        string? code = null;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            var depth = reader.CurrentDepth;
            while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != depth + 1)
                {
                    continue;
                }

                if (reader.ValueTextEquals("type"u8) || reader.ValueTextEquals("code"u8))
                {
                    var isType = reader.ValueTextEquals("type"u8);
                    reader.Read();
                    var value = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => null,
                    };
                    if (isType)
                    {
                        type = value;
                    }
                    else
                    {
                        code = value;
                    }
                }
                else if (errorObjectIsRoot && reader.ValueTextEquals("error"u8))
                {
                    // An error event whose data is {"error": {...}}: classify the inner object.
                    reader.Read();
                    return StreamErrorFrom(ref reader, errorObjectIsRoot: false);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }

        return UpstreamErrorClassifier.FromStreamError(type, code);
    }

    private ChatResponseUpdate NewUpdate(AIContent? content, ChatFinishReason? finishReason) => new()
    {
        Role = ChatRole.Assistant,
        // A one-element array, not a List: nothing adds to an update's contents.
        Contents = content is null ? [] : new AIContent[] { content },
        FinishReason = finishReason,
        ModelId = _modelId,
        ResponseId = _responseId,
    };

    /// <summary>Keeps the string of a value that repeats on every chunk (model, id): allocated again only when it changes (then true).</summary>
    private static bool CacheString(ref Utf8JsonReader reader, ref string? cached, ref byte[]? cachedUtf8)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return false;
        }

        // Azure's prompt-filter chunk has "model": "" and "id": "": not a value worth reporting.
        if (!reader.ValueIsEscaped && reader.ValueSpan.IsEmpty)
        {
            return false;
        }

        if (!reader.ValueIsEscaped && cachedUtf8 is not null && reader.ValueSpan.SequenceEqual(cachedUtf8))
        {
            return false;
        }

        cached = reader.GetString();
        cachedUtf8 = reader.ValueIsEscaped ? null : reader.ValueSpan.ToArray();
        return true;
    }
}
