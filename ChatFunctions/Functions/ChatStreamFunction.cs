using System.Diagnostics;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
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
    ProblemResponder problems,
    IRequestAuthenticator authenticator, // access: sign-in (issue 10)
    ITokenBudget budget) // access: token budgets (issue 10)
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
        // access: a client that left is not a failure; complete normally so the worker reports success (docs/deploy.md).
        try
        {
            await RespondAsync(request, context, aborted, cancellationToken);
        }
        catch (OperationCanceledException ex) when (aborted.IsCancellationRequested || ex is ClientGoneException)
        {
        }
    }

    private async Task RespondAsync(HttpRequest request, HttpContext context, CancellationToken aborted, CancellationToken cancellationToken)
    {
        // access: sign-in first (issue 10).
        var access = await authenticator.AuthenticateAsync(context, aborted);
        if (access.Rejection is { } denied)
        {
            await problems.RejectAsync(context, denied);
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

        // access: the caller's daily token budget, before the model is called (issue 10).
        var allowance = await budget.CheckAsync(access.Caller!.Key, aborted);
        if (!allowance.Allowed)
        {
            await problems.RejectAsync(context, allowance.ToRejection(time.GetUtcNow()));
            return;
        }

        EventStreamResponse.Start(context.Response);
        await using var writer = new SseChatWriter(context.Response.BodyWriter, time, TimeSpan.FromSeconds(options.Value.HeartbeatSeconds));
        var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        var summary = await streamer.StreamAsync(requestId, read.Request!, writer, aborted);
        // access: count the spend even when the client left (the host's token, not the client's); the lead moves this into the producer.
        await budget.RecordAsync(access.Caller.Key, TokenUsage.ToRecord(read.Request!, options.Value.SystemPrompt, summary), cancellationToken);
    }
}
