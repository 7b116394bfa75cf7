using System.Diagnostics;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Http;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Functions;

/// <summary>POST/GET /api/chat/stream: translates HTTP to a validated request and an SSE response; the streamer does the rest.</summary>
public sealed class ChatStreamFunction(
    IChatRequestReader reader,
    IChatStreamer streamer,
    IChatModelProvider provider,
    IOptions<ChatServiceOptions> options,
    TimeProvider time,
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

        EventStreamResponse.Start(context.Response);
        await using var writer = new SseChatWriter(context.Response.BodyWriter, time, TimeSpan.FromSeconds(options.Value.HeartbeatSeconds));
        var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        await streamer.StreamAsync(requestId, read.Request!, writer, aborted);
    }
}
