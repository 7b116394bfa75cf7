using ChatFunctions.Access;
using ChatFunctions.Http;
using ChatFunctions.Replies;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>GET /api/chat/streams/{streamId}: continues a stream after the frame named by Last-Event-ID (header, or
/// the lastEventId query parameter for clients that cannot set headers), or replays it from the start.</summary>
public sealed class ResumeStreamFunction(
    IRequestAuthenticator authenticator,
    IReplyService replies,
    EventStreamDelivery delivery,
    ProblemResponder problems)
{
    [Function("ResumeStream")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "chat/streams/{streamId}")] HttpRequest request,
        string streamId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        try
        {
            var access = await authenticator.AuthenticateAsync(context, linked.Token);
            var badId = ResumeRequest.CheckStreamId(streamId);
            var (_, sequence, badPosition) = badId is null ? ResumeRequest.ReadPosition(request, streamId) : default;
            var invalid = access.Rejection ?? badId ?? badPosition;
            var result = invalid is null ? await replies.ResumeAsync(streamId, sequence, access.Caller!, linked.Token) : null;
            if ((invalid ?? result!.Rejection) is { } rejection)
            {
                await problems.RejectAsync(context, rejection);
                return;
            }

            await delivery.DeliverAsync(context, result!.Source!, linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // The client left: not a failure.
        }
    }
}
