using System.Diagnostics;
using ChatFunctions.Access;
using ChatFunctions.Http;
using ChatFunctions.Replies;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>POST/GET /api/chat/stream: translates HTTP to a start of a reply (<see cref="IReplyService"/>) and its
/// stream to an SSE response. The reply is produced apart from the connection (so it can be resumed); this request is
/// its first reader. An EventSource that reconnects to the same URL with Last-Event-ID continues the same reply.</summary>
public sealed class ChatStreamFunction(
    IRequestAuthenticator authenticator,
    IChatRequestReader reader,
    IReplyService replies,
    EventStreamDelivery delivery,
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
        ReplyResult result;
        if (HttpMethods.IsGet(request.Method) && request.Headers.ContainsKey(ResumeRequest.LastEventIdHeader))
        {
            // EventSource's own reconnect: same URL, with the last id it saw.
            var (streamId, sequence, invalid) = ResumeRequest.ReadPosition(request, streamId: null);
            result = invalid is null ? await replies.ResumeAsync(streamId!, sequence, caller, aborted) : ReplyResult.Reject(invalid);
        }
        else
        {
            var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
            result = await replies.StartAsync(
                new ReplyStart(caller, ClientAddress.Resolve(context), requestId, cancellation => reader.ReadAsync(request, cancellation)),
                aborted);
        }

        if (result.Rejection is { } rejection)
        {
            await problems.RejectAsync(context, rejection);
            return;
        }

        await delivery.DeliverAsync(context, result.Source!, aborted);
    }
}
