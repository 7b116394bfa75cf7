using System.ClientModel;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// The chat completions request body the SDK adapter (Microsoft.Extensions.AI.OpenAI) would send for the same
/// messages and options: model, messages, max_completion_tokens, temperature and the other scalar options, stream with
/// usage. Text messages only: the app sends nothing else, and anything else fails loudly rather than being dropped.
/// <para>The reasoning effort is the provider's, not the request's: <see cref="ChatModelProviderFactory"/> gives it to
/// Azure OpenAI's client only, so OpenAI-compatible servers that reject unknown fields never see it.</para>
/// </summary>
public static class ChatCompletionRequest
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
            json.WriteStartArray("messages"u8);
            foreach (var message in messages)
            {
                json.WriteStartObject();
                json.WriteString("role"u8, RoleName(message.Role));
                json.WriteString("content"u8, TextOf(message));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("model"u8, options?.ModelId ?? model);
            if (options?.MaxOutputTokens is { } maxTokens)
            {
                json.WriteNumber("max_completion_tokens"u8, maxTokens);
            }

            if (options?.Temperature is { } temperature)
            {
                json.WriteNumber("temperature"u8, temperature);
            }

            if (options?.TopP is { } topP)
            {
                json.WriteNumber("top_p"u8, topP);
            }

            if (options?.FrequencyPenalty is { } frequencyPenalty)
            {
                json.WriteNumber("frequency_penalty"u8, frequencyPenalty);
            }

            if (options?.PresencePenalty is { } presencePenalty)
            {
                json.WriteNumber("presence_penalty"u8, presencePenalty);
            }

            if (options?.Seed is { } seed)
            {
                json.WriteNumber("seed"u8, seed);
            }

            if (options?.StopSequences is { Count: > 0 } stops)
            {
                json.WriteStartArray("stop"u8);
                foreach (var stop in stops)
                {
                    json.WriteStringValue(stop);
                }

                json.WriteEndArray();
            }

            if (!string.IsNullOrEmpty(reasoningEffort))
            {
                json.WriteString("reasoning_effort"u8, reasoningEffort);
            }

            json.WriteBoolean("stream"u8, true);
            json.WriteStartObject("stream_options"u8);
            json.WriteBoolean("include_usage"u8, true);
            json.WriteEndObject();
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
