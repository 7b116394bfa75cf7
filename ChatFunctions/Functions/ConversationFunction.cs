using ChatFunctions.Access;
using ChatFunctions.Conversations;
using ChatFunctions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Net.Http.Headers;

namespace ChatFunctions.Functions;

/// <summary>GET / PUT / DELETE /api/conversations/{id}: one conversation of the signed-in user, its ETag the version a
/// save must name (If-Match) or create (If-None-Match: *). See docs/conversations.md.</summary>
public sealed class ConversationFunction(IRequestAuthenticator authenticator, ConversationBodyReader bodies, ConversationService conversations, ProblemResponder problems)
{
    [Function("Conversation")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "put", "delete", Route = "conversations/{id}")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        try
        {
            var access = await authenticator.AuthenticateAsync(context, linked.Token);
            var headers = request.Headers;
            var outcome = access.Rejection is { } denied ? denied
                : HttpMethods.IsPut(request.Method)
                    ? await conversations.PutAsync(access.Caller!, new ConversationWrite(id, cancellation => bodies.ReadAsync(request, cancellation), Header(headers.IfMatch), Header(headers.IfNoneMatch)), linked.Token)
                : HttpMethods.IsDelete(request.Method)
                    ? await conversations.DeleteAsync(access.Caller!, id, Header(headers.IfMatch), linked.Token)
                    : await conversations.GetAsync(access.Caller!, id, linked.Token);
            if (outcome.Rejection is { } rejection)
            {
                await problems.RejectAsync(context, rejection);
                return;
            }

            var response = context.Response;
            SecurityHeaders.ApplyApi(response);
            SecurityHeaders.NoStore(response);
            if (outcome.Conversation is { } stored)
            {
                response.Headers.ETag = stored.ETag;
                response.ContentType = "application/json; charset=utf-8";
                response.ContentLength = stored.Document.Json.Length;
                await response.Body.WriteAsync(stored.Document.Json, linked.Token);
                return;
            }

            // A save answers 200 with its new ETag (the page needs it for the next save), a delete 204.
            response.Headers.ETag = outcome.ETag;
            response.StatusCode = HttpMethods.IsDelete(request.Method) ? StatusCodes.Status204NoContent : StatusCodes.Status200OK;
            if (response.StatusCode == StatusCodes.Status200OK)
            {
                response.ContentType = "application/json; charset=utf-8";
                await System.Text.Json.JsonSerializer.SerializeAsync(response.Body, new SavedDto(outcome.ETag!), ConversationJsonContext.Default.SavedDto, linked.Token);
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // A client that left is not a failure.
        }
    }

    private static string? Header(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? null : values.ToString();
}
