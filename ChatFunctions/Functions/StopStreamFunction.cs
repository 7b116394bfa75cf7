using ChatFunctions.Access;
using ChatFunctions.Http;
using ChatFunctions.Replies;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>DELETE /api/chat/streams/{streamId}: stops the reply (the model call is aborted; the stream ends with
/// finishReason "cancelled"). A disconnect is not a stop: it leaves the reply running for the grace window.</summary>
public sealed class StopStreamFunction(IRequestAuthenticator authenticator, IReplyService replies, ProblemResponder problems)
{
    [Function("StopStream")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "chat/streams/{streamId}")] HttpRequest request,
        string streamId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        var access = await authenticator.AuthenticateAsync(context, cancellationToken);
        var rejection = access.Rejection ?? ResumeRequest.CheckStreamId(streamId) ?? await replies.StopAsync(streamId, access.Caller!, cancellationToken);
        if (rejection is not null)
        {
            await problems.RejectAsync(context, rejection);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
        SecurityHeaders.ApplyApi(context.Response);
        SecurityHeaders.NoStore(context.Response);
    }
}
