using System.Runtime.CompilerServices;
using ChatFunctions.Models;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Diagnostics;

/// <summary>
/// Wraps the model client in Microsoft.Extensions.AI's OpenTelemetry middleware: a gen_ai "chat" span per model
/// call and the GenAI client metrics (gen_ai.client.token.usage, gen_ai.client.operation.duration, and its own
/// time-to-first-chunk / time-per-chunk measured at the model client) on <see cref="SourceName"/>.
/// Prompt and reply text are never recorded (EnableSensitiveData is forced off, whatever
/// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says).
/// </summary>
/// <remarks>
/// The middleware keeps every update of a stream until it ends (to describe the whole response on its span).
/// Each update from the OpenAI SDK holds the SDK's own parsed chunk as RawRepresentation, some 3–4 KB a token, so
/// an open stream grew by that much per token already sent (docs/benchmarks.md). Nothing after the middleware reads
/// the raw objects, so they are dropped beneath it: what it keeps is the text, a few hundred bytes a token.
/// </remarks>
public sealed class ChatClientTelemetry : IChatClientPipeline
{
    /// <summary>ActivitySource and Meter name of the GenAI middleware.</summary>
    public const string SourceName = "ChatFunctions.GenAI";

    public IChatClient Build(IChatClient inner, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(inner);
        // No logger factory: the middleware's log events exist to carry message content, which we never record.
        return inner.AsBuilder()
            .UseOpenTelemetry(loggerFactory: null, sourceName: SourceName, configure: static c => c.EnableSensitiveData = false)
            .Use(static innerClient => new DropRawRepresentationChatClient(innerClient))
            .Build(services);
    }

    /// <summary>Lets go of the SDK's per-chunk objects as soon as an update is converted.</summary>
    internal sealed class DropRawRepresentationChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                update.RawRepresentation = null;
                var contents = update.Contents;
                for (var i = 0; i < contents.Count; i++)
                {
                    contents[i].RawRepresentation = null;
                }

                yield return update;
            }
        }
    }
}
