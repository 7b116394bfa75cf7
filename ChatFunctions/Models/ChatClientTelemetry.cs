using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// Wraps the model client in <see cref="GenAiTelemetryChatClient"/>: a gen_ai "chat" span per model call and the
/// GenAI client metrics (gen_ai.client.token.usage, gen_ai.client.operation.duration, and time-to-first-chunk /
/// time-per-output-chunk measured at the model client) on <see cref="SourceName"/>, exactly as Microsoft.Extensions.AI's
/// OpenTelemetry middleware emits them with sensitive data off. That middleware is not used because it keeps every
/// update of a stream until the stream ends (≈ 250 bytes a token held per open stream; docs/benchmarks.md).
/// time_to_first_chunk and time_per_output_chunk time the updates the model client yields; ours
/// (OpenAIProtocolChatClient) yields only updates that carry something (text, usage or the finish reason), never
/// Azure's prompt-filter or filter-only chunks. Prompt and reply text are never recorded, whatever
/// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says.
/// </summary>
public sealed class ChatClientTelemetry : IChatClientPipeline
{
    /// <summary>ActivitySource and Meter name of the GenAI telemetry.</summary>
    public const string SourceName = "ChatFunctions.GenAI";

    public IChatClient Build(IChatClient inner, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new GenAiTelemetryChatClient(inner, SourceName);
    }
}
