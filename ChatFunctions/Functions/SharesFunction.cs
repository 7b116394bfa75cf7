using System.Text.Json;
using ChatFunctions.Access;
using ChatFunctions.Http;
using ChatFunctions.Shares;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>POST /api/shares: the signed-in user shares a snapshot of a conversation (201, the share with its id and
/// link); GET /api/shares: the signed-in user's shares, for "Stop sharing". See docs/conversations.md.</summary>
public sealed class SharesFunction(IRequestAuthenticator authenticator, ShareBodyReader bodies, ShareService shares, ProblemResponder problems)
{
    [Function("Shares")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", Route = "shares")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        try
        {
            var access = await authenticator.AuthenticateAsync(context, linked.Token);
            var create = HttpMethods.IsPost(request.Method);
            var outcome = access.Rejection is { } denied ? denied
                : create ? await shares.CreateAsync(access.Caller!, new ShareWrite(cancellation => bodies.ReadAsync(request, cancellation)), linked.Token)
                : await shares.ListAsync(access.Caller!, linked.Token);
            if (outcome.Rejection is { } rejection)
            {
                await problems.RejectAsync(context, rejection);
                return;
            }

            var response = context.Response;
            SecurityHeaders.ApplyApi(response);
            SecurityHeaders.NoStore(response);
            response.ContentType = "application/json; charset=utf-8";
            if (outcome.Created is { } created)
            {
                response.StatusCode = StatusCodes.Status201Created;
                response.Headers.Location = $"/api/shares/{created.Id}";
                await JsonSerializer.SerializeAsync(response.Body, created, ShareJsonContext.Default.ShareDto, linked.Token);
                return;
            }

            await JsonSerializer.SerializeAsync(response.Body, new ShareListDto(outcome.Shares!), ShareJsonContext.Default.ShareListDto, linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // A client that left is not a failure.
        }
    }
}
