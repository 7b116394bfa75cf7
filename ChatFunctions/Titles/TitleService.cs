using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Titles;

/// <summary>A title request: the conversation's first message and the start of its reply.</summary>
public sealed record TitleRequest(string Message, string Reply);

/// <summary>A title, or the refusal.</summary>
public sealed record TitleOutcome(string? Title, Refusal? Rejection)
{
    public static implicit operator TitleOutcome(Refusal rejection) => new(null, rejection);
}

/// <summary>
/// A conversation's title from its first exchange: one short call to the same model as the chat, admitted and
/// charged by the <see cref="SpendGate"/> like a reply (its worst case, CHAT_TITLE_MAX_OUTPUT_TOKENS, reserved before
/// the call, settled to the model's count after), its answer reduced to one plain line by <see cref="TitleText"/>.
/// </summary>
public sealed class TitleService(
    ClientRateLimiter rateLimiter,
    IChatModelProvider provider,
    SpendGate spendGate,
    IOptions<ConversationOptions> options,
    ILogger<TitleService> logger)
{
    /// <summary>The longest reply the request may quote: the start of a reply says what the chat is about.</summary>
    public const int MaxReplyChars = 4_000;

    /// <summary>How long the model may take for a title before the page falls back to its own.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly ConversationOptions _options = options.Value;

    /// <summary>Passes the client's rate limit (<paramref name="clientAddress"/>, as a chat request does), then reads
    /// the request (<paramref name="readRequest"/>, only once the client is admitted), then asks the model within the
    /// caller's budget.</summary>
    public async Task<TitleOutcome> CreateAsync(
        Caller caller,
        string clientAddress,
        Func<CancellationToken, Task<(TitleRequest? Request, Refusal? Rejection)>> readRequest,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(readRequest);
        ArgumentNullException.ThrowIfNull(caller);
        if (rateLimiter.Admit(clientAddress) is { } limited)
        {
            return limited;
        }

        var read = await readRequest(cancellationToken);
        if (read.Rejection is { } rejection)
        {
            return rejection;
        }

        if (!provider.IsAvailable)
        {
            return new Refusal(RefusalKind.Unavailable, "model", "No chat model is configured, so no title can be made.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            };
        }

        var (message, reply) = read.Request!;
        var request = new ChatRequest(TitlePrompt.Ask, [new ChatTurn(ChatTurnRole.User, message), new ChatTurn(ChatTurnRole.Assistant, reply)]);
        var admission = await spendGate.AdmitAsync(caller.Key, request, TitlePrompt.Instructions, _options.TitleMaxOutputTokens, cancellationToken);
        if (admission.Rejection is { } refused)
        {
            return refused;
        }

        var spend = admission.Spend!;
        long? spent = null;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(Timeout);
            var text = new System.Text.StringBuilder();
            try
            {
                var chatOptions = new ChatOptions { MaxOutputTokens = _options.TitleMaxOutputTokens, Temperature = 0.2f };
                await foreach (var update in provider.Client.GetStreamingResponseAsync(TitlePrompt.Messages(message, reply), chatOptions, deadline.Token))
                {
                    text.Append(update.Text);
                    foreach (var usage in update.Contents.OfType<UsageContent>())
                    {
                        spent = usage.Details.TotalTokenCount ?? ((usage.Details.InputTokenCount ?? 0) + (usage.Details.OutputTokenCount ?? 0));
                    }

                    if (text.Length > TitleText.MaxChars * 16)
                    {
                        // Far more than any title: the model is not answering the question.
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var timedOut = ex is OperationCanceledException;
                Log.TitleModelFailed(logger, timedOut ? "timeout" : ex.GetType().Name);
                return ModelFailed(timedOut ? "The model did not name the conversation in time." : "The model could not name the conversation.");
            }

            var title = TitleText.Sanitize(text.ToString());
            if (title is null)
            {
                Log.TitleModelFailed(logger, "empty");
                return ModelFailed("The model's answer held no usable title.");
            }

            return new TitleOutcome(title, null);
        }
        finally
        {
            var counted = spend.Reservation.Outcome is BudgetOutcome.Reserved or BudgetOutcome.StoreUnavailable ? spent : null;
            await spend.SettleAsync(counted);
        }
    }

    private static Refusal ModelFailed(string detail) =>
        new(RefusalKind.ModelFailed, "model", detail + " Keep the page's own title.");
}
