using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// The edge between the SDK and everything of ours (telemetry middleware included). Two jobs:
/// <list type="bullet">
/// <item>SDK exceptions become <see cref="ChatUpstreamException"/>s with our generic message. The SDK puts the model
/// service's response body in the message, and error bodies can quote the prompt; spans, logs and exception events
/// above this point never see it.</item>
/// <item>The SDK's parsed chunk (RawRepresentation, some 3–4 KB a token) is dropped as soon as an update is converted.
/// Anything above that keeps updates (Microsoft.Extensions.AI's OpenTelemetry middleware keeps every update of a
/// stream until it ends, which is why GenAiTelemetryChatClient stands in for it) would otherwise grow an open stream by
/// that much per token already sent (docs/benchmarks-history.md); nothing of ours reads the raw objects.</item>
/// </list>
/// </summary>
public sealed class SdkBoundaryChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ChatUpstreamException)
        {
            throw UpstreamErrorClassifier.Sanitize(ex);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (updates)
        {
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not ChatUpstreamException)
                {
                    throw UpstreamErrorClassifier.Sanitize(ex);
                }

                var update = updates.Current;
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
