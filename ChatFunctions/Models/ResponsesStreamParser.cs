using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// Turns one event of a v1 Responses stream (the bytes of its data line) into at most one update, for one stream,
/// reading only what the relay uses and skipping the rest without materialising it. The event's kind is its data's
/// <c>type</c> (as the SDK reads it; the <c>event:</c> name repeats it):
/// <list type="bullet">
/// <item><c>response.output_text.delta</c>: the text, a <see cref="TextContent"/>.</item>
/// <item><c>response.reasoning_summary_text.delta</c>: a reasoning summary's text, a <see cref="TextReasoningContent"/>.</item>
/// <item><c>response.completed</c>: finish reason <c>stop</c> and the usage.</item>
/// <item><c>response.incomplete</c>: finish reason <c>length</c> (max_output_tokens) or <c>content_filter</c>, and the
/// usage, so the budget settles to what was spent.</item>
/// <item><c>response.failed</c> and <c>error</c>: a <see cref="ChatUpstreamException"/> classified by the code only
/// (the service's message can quote the prompt).</item>
/// </list>
/// Each of the last four ends the response (<see cref="Done"/>); a body that ends before any of them has no finish
/// reason, which the relay reports as incomplete. Response id and model come from the response object of
/// <c>response.created</c> and are allocated once per stream.
/// <para>A text event costs its string, one content, one one-element array and one <see cref="ChatResponseUpdate"/>;
/// updates are not reused, since whoever consumes the stream may keep them.</para>
/// </summary>
public sealed class ResponsesStreamParser
{
    private enum Kind
    {
        Unknown,
        Other,
        Started,
        TextDelta,
        SummaryDelta,
        Completed,
        Incomplete,
        Failed,
        Error,
    }

    private string? _modelId;
    private byte[]? _modelIdUtf8;
    private string? _responseId;
    private byte[]? _responseIdUtf8;

    /// <summary>True once the response's ending event arrived.</summary>
    public bool Done { get; private set; }

    /// <summary>An <see cref="System.Net.ServerSentEvents.SseItemParser{T}"/>: null for events that carry nothing for us.</summary>
    public ChatResponseUpdate? Parse(string eventType, ReadOnlySpan<byte> data)
    {
        if (Done || data.IsEmpty || data.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }

        try
        {
            return ParseEvent(data);
        }
        catch (JsonException ex)
        {
            throw new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamError,
                "The model service sent a malformed event stream.", Retryable: true), new InvalidDataException("A stream event is not valid JSON.", ex));
        }
    }

    private ChatResponseUpdate? ParseEvent(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("An event is not a JSON object.");
        }

        var kind = Kind.Unknown;
        string? delta = null;
        string? code = null;
        ResponseEnding ending = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                kind = KindOf(ref reader);
            }
            else if (reader.ValueTextEquals("delta"u8) && kind is Kind.Unknown or Kind.TextDelta or Kind.SummaryDelta)
            {
                reader.Read();
                delta = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("response"u8) && kind != Kind.Other)
            {
                reader.Read();
                ending = ReadResponse(ref reader);
            }
            else if (reader.ValueTextEquals("code"u8) && kind is Kind.Unknown or Kind.Error)
            {
                reader.Read();
                code = ScalarText(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        switch (kind)
        {
            case Kind.TextDelta when !string.IsNullOrEmpty(delta):
                return NewUpdate(new TextContent(delta), null);
            case Kind.SummaryDelta when !string.IsNullOrEmpty(delta):
                return NewUpdate(new TextReasoningContent(delta), null);
            case Kind.Completed:
                Done = true;
                return NewUpdate(ending.Usage is { } completedUsage ? new UsageContent(completedUsage) : null, ChatFinishReason.Stop);
            case Kind.Incomplete:
                Done = true;
                return NewUpdate(ending.Usage is { } incompleteUsage ? new UsageContent(incompleteUsage) : null,
                    ending.ContentFiltered ? ChatFinishReason.ContentFilter : ChatFinishReason.Length);
            case Kind.Failed:
                Done = true;
                throw UpstreamErrorClassifier.FromStreamError("response.failed", ending.ErrorCode);
            case Kind.Error:
                Done = true;
                throw UpstreamErrorClassifier.FromStreamError("error", code);
            default:
                return null;
        }
    }

    private static Kind KindOf(ref Utf8JsonReader reader) =>
        reader.TokenType != JsonTokenType.String ? Kind.Other
        : reader.ValueTextEquals("response.output_text.delta"u8) ? Kind.TextDelta
        : reader.ValueTextEquals("response.reasoning_summary_text.delta"u8) ? Kind.SummaryDelta
        : reader.ValueTextEquals("response.completed"u8) ? Kind.Completed
        : reader.ValueTextEquals("response.incomplete"u8) ? Kind.Incomplete
        : reader.ValueTextEquals("response.failed"u8) ? Kind.Failed
        : reader.ValueTextEquals("error"u8) ? Kind.Error
        : reader.ValueTextEquals("response.created"u8) || reader.ValueTextEquals("response.in_progress"u8) ? Kind.Started
        : Kind.Other;

    /// <summary>What a response object tells: its id and model (kept), usage, why it is incomplete, its error's code.</summary>
    private ResponseEnding ReadResponse(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return default;
        }

        var ending = default(ResponseEnding);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                CacheString(ref reader, ref _responseId, ref _responseIdUtf8);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                CacheString(ref reader, ref _modelId, ref _modelIdUtf8);
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                ending.Usage = ReadUsage(ref reader);
            }
            else if (reader.ValueTextEquals("incomplete_details"u8))
            {
                reader.Read();
                ending.ContentFiltered = ReadProperty(ref reader, "reason"u8) == "content_filter";
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                ending.ErrorCode = ReadProperty(ref reader, "code"u8);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return ending;
    }

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
            if (reader.ValueTextEquals("input_tokens"u8))
            {
                usage.InputTokenCount = ReadCount(ref reader);
            }
            else if (reader.ValueTextEquals("output_tokens"u8))
            {
                usage.OutputTokenCount = ReadCount(ref reader);
            }
            else if (reader.ValueTextEquals("total_tokens"u8))
            {
                usage.TotalTokenCount = ReadCount(ref reader);
            }
            else if (reader.ValueTextEquals("input_tokens_details"u8))
            {
                reader.Read();
                usage.CachedInputTokenCount = ReadCountProperty(ref reader, "cached_tokens"u8);
            }
            else if (reader.ValueTextEquals("output_tokens_details"u8))
            {
                reader.Read();
                usage.ReasoningTokenCount = ReadCountProperty(ref reader, "reasoning_tokens"u8);
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

    /// <summary>One count of an object (the reader on its start), the rest skipped.</summary>
    private static long? ReadCountProperty(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
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

    /// <summary>One scalar of an object (the reader on its start) as text, the rest skipped; null for a null object.</summary>
    private static string? ReadProperty(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        string? found = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
            {
                reader.Read();
                found = ScalarText(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return found;
    }

    private static string? ScalarText(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.StartObject or JsonTokenType.StartArray => SkipNull(ref reader),
        _ => null,
    };

    private static string? SkipNull(ref Utf8JsonReader reader)
    {
        reader.Skip();
        return null;
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

    /// <summary>Keeps the string of a value that repeats on every response object: allocated again only when it changes.</summary>
    private static void CacheString(ref Utf8JsonReader reader, ref string? cached, ref byte[]? cachedUtf8)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return;
        }

        if ((!reader.ValueIsEscaped && reader.ValueSpan.IsEmpty)
            || (!reader.ValueIsEscaped && cachedUtf8 is not null && reader.ValueSpan.SequenceEqual(cachedUtf8)))
        {
            return;
        }

        cached = reader.GetString();
        cachedUtf8 = reader.ValueIsEscaped ? null : reader.ValueSpan.ToArray();
    }

    private struct ResponseEnding
    {
        public UsageDetails? Usage;
        public bool ContentFiltered;
        public string? ErrorCode;
    }
}
