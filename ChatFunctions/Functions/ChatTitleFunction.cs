using System.Text.Json;
using ChatFunctions.Access;
using ChatFunctions.Http;
using ChatFunctions.Titles;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>POST /api/chat/title: {"message", "reply"} of a conversation's first exchange → {"title"}, from a short
/// model call charged to the caller's budget; the same sign-in, rate limit and problems as the chat.</summary>
public sealed class ChatTitleFunction(IRequestAuthenticator authenticator, TitleRequestReader reader, TitleService titles, ProblemResponder problems)
{
    [Function("ChatTitle")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "chat/title")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.HttpContext;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, cancellationToken);
        try
        {
            var access = await authenticator.AuthenticateAsync(context, linked.Token);
            if (access.Rejection is { } denied)
            {
                await problems.RejectAsync(context, denied);
                return;
            }

            var outcome = await titles.CreateAsync(access.Caller!, ClientAddress.Resolve(context), cancellation => reader.ReadAsync(request, cancellation), linked.Token);
            if (outcome.Rejection is { } rejection)
            {
                await problems.RejectAsync(context, rejection);
                return;
            }

            SecurityHeaders.ApplyApi(context.Response);
            SecurityHeaders.NoStore(context.Response);
            context.Response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(context.Response.Body, new TitleResponseDto(outcome.Title!), TitleJsonContext.Default.TitleResponseDto, linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // A client that left is not a failure.
        }
    }
}
