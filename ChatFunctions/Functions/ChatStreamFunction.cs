using System.Diagnostics;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
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
    IRequestAuthenticator authenticator,
    IChatRequestReader reader,
    IChatModelProvider provider,
    SpendGate spendGate,
    LiveReplies replies,
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
        try
        {
            await RespondAsync(context, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // A client that left is not a failure: complete normally so the worker reports success (docs/deploy.md).
        }
    }

    private async Task RespondAsync(HttpContext context, CancellationToken aborted)
    {
        var request = context.Request;
        var access = await authenticator.AuthenticateAsync(context, aborted);
        if (access.Rejection is { } denied)
        {
            await problems.RejectAsync(context, denied);
            return;
        }

        var caller = access.Caller!;
        if (HttpMethods.IsGet(request.Method) && request.Headers.ContainsKey(StreamResumer.LastEventIdHeader))
        {
            await ResumeAsync(context, caller, aborted);
            return;
        }

        if (rateLimiter.TryAdmit(context) is { } wait)
        {
            await problems.RejectAsync(context, new RequestRejection(StatusCodes.Status429TooManyRequests, "client",
                $"Too many chat requests from this address; try again in {Math.Ceiling(wait.TotalSeconds)} s.") { RetryAfter = wait });
            return;
        }

        var read = await reader.ReadAsync(request, aborted);
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

        // An open-reply slot and the reply's worst case reserved against the caller's budget, before the model is
        // called; the producer settles both when the reply ends.
        var admission = await spendGate.AdmitAsync(caller.Key, read.Request!, aborted);
        if (admission.Rejection is { } refused)
        {
            await problems.RejectAsync(context, refused);
            return;
        }

        var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        LiveReply reply;
        try
        {
            reply = replies.Start(requestId, read.Request!, caller, admission.Spend);
        }
        catch
        {
            // Nothing will produce the reply: give its slot back (its reservation stays charged, spend unknown).
            await admission.Spend!.SettleAsync(null);
            throw;
        }

        await delivery.DeliverAsync(context, new LiveLogSource(reply.Log, 0), aborted);
    }

    /// <summary>EventSource's own reconnect: same URL, with the last id it saw.</summary>
    private async Task ResumeAsync(HttpContext context, Caller caller, CancellationToken aborted)
    {
        var (streamId, sequence, invalid) = StreamResumer.ReadPosition(context.Request, streamId: null);
        var result = invalid is null ? await resumer.OpenAsync(streamId!, sequence, caller, aborted) : null;
        if ((invalid ?? result!.Rejection) is { } rejection)
        {
            await problems.RejectAsync(context, rejection);
            return;
        }

        await delivery.DeliverAsync(context, result!.Source!, aborted);
    }
}
