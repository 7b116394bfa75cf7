using System.ClientModel;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// The v1 Responses request body that Microsoft.Extensions.AI's adapter for the SDK's ResponsesClient would send for
/// the same messages and options (the equivalence tests compare the two on the wire): model, the messages as input
/// items with text parts, max_output_tokens, temperature, top_p, stream, and the reasoning effort with a summary when
/// one is configured. Text messages only: the app sends nothing else, and anything else fails loudly rather than
/// being dropped.
/// </summary>
public static class ResponsesRequest
{
    public static BinaryContent Create(IEnumerable<ChatMessage> messages, ChatOptions? options, string model, string? reasoningEffort = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentException.ThrowIfNullOrEmpty(model);
        if (options is not null && (options.Tools is { Count: > 0 } || options.ResponseFormat is not null))
        {
            throw new NotSupportedException("Tools and response formats are not supported by this client.");
        }

        var buffer = new MemoryStream(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model"u8, options?.ModelId ?? model);
            json.WriteStartArray("input"u8);
            foreach (var message in messages)
            {
                var assistant = message.Role == ChatRole.Assistant;
                json.WriteStartObject();
                json.WriteString("type"u8, "message"u8);
                json.WriteString("role"u8, RoleName(message.Role));
                json.WriteStartArray("content"u8);
                json.WriteStartObject();
                json.WriteString("type"u8, assistant ? "output_text"u8 : "input_text"u8);
                json.WriteString("text"u8, TextOf(message));
                if (assistant)
                {
                    json.WriteStartArray("annotations"u8);
                    json.WriteEndArray();
                }

                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            if (options?.MaxOutputTokens is { } maxTokens)
            {
                json.WriteNumber("max_output_tokens"u8, maxTokens);
            }

            if (options?.Temperature is { } temperature)
            {
                json.WriteNumber("temperature"u8, temperature);
            }

            if (options?.TopP is { } topP)
            {
                json.WriteNumber("top_p"u8, topP);
            }

            if (!string.IsNullOrEmpty(reasoningEffort))
            {
                // The effort as the API spells it, and summaries streamed as the model reasons ("auto": the most
                // detailed summarizer the model has).
                json.WriteStartObject("reasoning"u8);
                json.WriteString("effort"u8, reasoningEffort);
                json.WriteString("summary"u8, "auto"u8);
                json.WriteEndObject();
            }

            json.WriteBoolean("stream"u8, true);
            json.WriteEndObject();
        }

        return BinaryContent.Create(new BinaryData(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)));
    }

    private static string RoleName(ChatRole role) =>
        role == ChatRole.System ? "system"
        : role == ChatRole.User ? "user"
        : role == ChatRole.Assistant ? "assistant"
        : throw new NotSupportedException($"Messages with the role '{role}' are not supported by this client.");

    private static string TextOf(ChatMessage message)
    {
        foreach (var content in message.Contents)
        {
            if (content is not TextContent)
            {
                throw new NotSupportedException($"Message content of type {content.GetType().Name} is not supported by this client.");
            }
        }

        return message.Text;
    }
}
