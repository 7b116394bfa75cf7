using System.Diagnostics;
using ChatFunctions.Chat;
using ChatFunctions.Http;
using ChatFunctions.Models;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>POST/GET /api/chat/stream: translates HTTP to a validated request and an SSE response. The reply is
/// produced apart from the connection (so it can be resumed); this request is its first reader. An EventSource that
/// reconnects to the same URL with Last-Event-ID continues the same reply.</summary>
public sealed class ChatStreamFunction(
    IChatRequestReader reader,
    IChatModelProvider provider,
    LiveReplies streams,
    StreamResumer resumer,
    EventStreamDelivery delivery,
    ClientRateLimiter rateLimiter,
    ProblemResponder problems)
{
    [Function("ChatStream")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", Route = "chat/stream")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        // The abort token fires when the client disconnects; the function's token when the host shuts down.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        var aborted = linked.Token;

        if (HttpMethods.IsGet(request.Method) && request.Headers.ContainsKey(StreamResumer.LastEventIdHeader))
        {
            await ResumeAsync(context, aborted);
            return;
        }

        if (rateLimiter.TryAdmit(context) is { } wait)
        {
            await problems.RejectAsync(context, new RequestRejection(StatusCodes.Status429TooManyRequests, "client",
                $"Too many chat requests from this address; try again in {Math.Ceiling(wait.TotalSeconds)} s.") { RetryAfter = wait });
            return;
        }

        ChatRequestReadResult read;
        try
        {
            read = await reader.ReadAsync(request, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return;
        }

        if (read.Rejection is { } rejection)
        {
            await problems.RejectAsync(context, rejection);
            return;
        }

        if (!provider.IsAvailable)
        {
            await problems.RejectAsync(context, new RequestRejection(StatusCodes.Status503ServiceUnavailable, "model",
                "No chat model is configured. Set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_CHAT_DEPLOYMENT, or OPENAI_BASE_URL and OPENAI_MODEL.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            });
            return;
        }

        var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        var stream = streams.Start(requestId, read.Request!, ownerKey: null);
        await delivery.DeliverAsync(context, new LiveLogSource(stream.Log, 0), aborted);
    }

    /// <summary>EventSource's own reconnect: same URL, with the last id it saw.</summary>
    private async Task ResumeAsync(HttpContext context, CancellationToken aborted)
    {
        var (streamId, sequence, invalid) = StreamResumer.ReadPosition(context.Request, streamId: null);
        var result = invalid is null ? await resumer.OpenAsync(streamId!, sequence, callerKey: null, aborted) : null;
        if ((invalid ?? result!.Rejection) is { } rejection)
        {
            await problems.RejectAsync(context, rejection);
            return;
        }

        await delivery.DeliverAsync(context, result!.Source!, aborted);
    }
}
