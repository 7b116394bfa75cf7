using System.Text.Json;
using ChatFunctions.Access;
using ChatFunctions.Conversations;
using ChatFunctions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>GET /api/conversations?limit=&amp;continuation=: a page of the signed-in user's conversations (id, title,
/// updatedAt, etag, deleted for tombstones), and <c>next</c> for the following page.</summary>
public sealed class ConversationsFunction(IRequestAuthenticator authenticator, ConversationService conversations, ProblemResponder problems)
{
    [Function("Conversations")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "conversations")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        try
        {
            var access = await authenticator.AuthenticateAsync(context, linked.Token);
            var outcome = access.Rejection is { } denied ? denied
                : await conversations.ListAsync(access.Caller!, Single(request.Query["continuation"]), Single(request.Query["limit"]), linked.Token);
            if (outcome.Rejection is { } rejection)
            {
                await problems.RejectAsync(context, rejection);
                return;
            }

            var page = outcome.Page!;
            var body = new ConversationListDto(
                [.. page.Items.Select(i => new ConversationSummaryDto(i.Id, i.Title, i.UpdatedAt, i.ETag, i.Deleted))],
                page.Continuation);
            SecurityHeaders.ApplyApi(context.Response);
            SecurityHeaders.NoStore(context.Response);
            context.Response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(context.Response.Body, body, ConversationJsonContext.Default.ConversationListDto, linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // A client that left is not a failure.
        }
    }

    private static string? Single(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? null : values.ToString();
}
