using ChatFunctions.Access;
using ChatFunctions.Http;
using ChatFunctions.Shares;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>GET /api/shares/{id}: the snapshot, to anyone with the link and without sign-in (the owner is never in
/// it); DELETE /api/shares/{id}: the owner stops sharing (204; anyone else's id is 404, like an unknown one).</summary>
public sealed class ShareFunction(IRequestAuthenticator authenticator, ShareService shares, ProblemResponder problems)
{
    /// <summary>Any cache must ask again on every use, so a revoked link stops at once; an unchanged snapshot costs a 304.</summary>
    public const string SnapshotCacheControl = "no-cache";

    [Function("Share")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "delete", Route = "shares/{id}")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        try
        {
            ShareOutcome outcome;
            if (HttpMethods.IsDelete(request.Method))
            {
                var access = await authenticator.AuthenticateAsync(context, linked.Token);
                outcome = access.Rejection is { } denied ? denied : await shares.RevokeAsync(access.Caller!, id, linked.Token);
            }
            else
            {
                outcome = await shares.ReadAsync(id, linked.Token);
            }

            if (outcome.Rejection is { } rejection)
            {
                await problems.RejectAsync(context, rejection);
                return;
            }

            var response = context.Response;
            SecurityHeaders.ApplyApi(response);
            if (outcome.Snapshot is not { } snapshot)
            {
                SecurityHeaders.NoStore(response);
                response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            response.Headers.CacheControl = SnapshotCacheControl;
            response.Headers.ETag = snapshot.ETag;
            if (request.Headers.IfNoneMatch.Any(tag => tag == snapshot.ETag))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            response.ContentType = "application/json; charset=utf-8";
            response.ContentLength = snapshot.Json.Length;
            await response.Body.WriteAsync(snapshot.Json, linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // A client that left is not a failure.
        }
    }
}
