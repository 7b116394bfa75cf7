using ChatFunctions.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatFunctions.Diagnostics;

/// <summary>
/// Wraps the model client in Microsoft.Extensions.AI's OpenTelemetry middleware: a gen_ai "chat" span per model
/// call and the GenAI client metrics (gen_ai.client.token.usage, gen_ai.client.operation.duration, and its own
/// time-to-first-chunk / time-per-chunk measured at the model client) on <see cref="SourceName"/>.
/// Prompt and reply text are never recorded (EnableSensitiveData is forced off, whatever
/// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says).
/// </summary>
public sealed class ChatClientTelemetry : IChatClientPipeline
{
    /// <summary>ActivitySource and Meter name of the GenAI middleware.</summary>
    public const string SourceName = "ChatFunctions.GenAI";

    public IChatClient Build(IChatClient inner, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(inner);
        // A null logger factory would make the middleware fall back to the app's; its log events exist to carry
        // message content, which we never record.
        return inner.AsBuilder()
            .UseOpenTelemetry(loggerFactory: NullLoggerFactory.Instance, sourceName: SourceName, configure: static c => c.EnableSensitiveData = false)
            .Build(services);
    }
}
