using System.Globalization;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Budgets;

/// <summary>
/// Tokens each caller may spend per UTC day (CHAT_TOKEN_BUDGET_PER_DAY). Checked before the model is called;
/// what a stream spent is recorded when it ends. A soft limit: requests that pass the check together all run, so a
/// caller can overshoot by what their concurrent requests spend (each bounded by CHAT_MAX_OUTPUT_TOKENS).
/// </summary>
public interface ITokenBudget
{
    /// <summary>Whether <paramref name="caller"/> may start another request today.</summary>
    ValueTask<BudgetDecision> CheckAsync(CallerKey caller, CancellationToken cancellationToken);

    /// <summary>
    /// Adds <paramref name="tokens"/> to today's spend (see <see cref="TokenUsage.ToRecord"/>). Call it when the stream
    /// has ended, with a token that is not the client's (the client may have left): the spend still counts.
    /// Never throws for a storage failure (logged and measured instead).
    /// </summary>
    ValueTask RecordAsync(CallerKey caller, long tokens, CancellationToken cancellationToken);
}

/// <summary>The answer to a budget check.</summary>
/// <param name="Limit">Tokens per day; 0 when budgets are off.</param>
/// <param name="ResetAt">The next UTC midnight, when a new day's budget starts.</param>
public sealed record BudgetDecision(bool Allowed, long Spent, long Limit, DateTimeOffset ResetAt)
{
    public static BudgetDecision Unlimited { get; } = new(true, 0, 0, DateTimeOffset.MaxValue);

    /// <summary>The 429 problem for a spent budget: <c>errors.budget</c>, Retry-After to the reset, and <c>resetAt</c>.</summary>
    public RequestRejection ToRejection(DateTimeOffset now) =>
        new(StatusCodes.Status429TooManyRequests, "budget",
            $"Today's token budget ({Limit.ToString("N0", CultureInfo.InvariantCulture)} tokens) is spent. It resets at {FormatResetAt()} (midnight UTC).")
        {
            RetryAfter = ResetAt - now,
            Extensions = new Dictionary<string, object?> { ["resetAt"] = FormatResetAt() },
        };

    private string FormatResetAt() => ResetAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>Budgets off (CHAT_TOKEN_BUDGET_PER_DAY=0): everything is allowed and nothing is stored.</summary>
public sealed class UnlimitedTokenBudget : ITokenBudget
{
    public ValueTask<BudgetDecision> CheckAsync(CallerKey caller, CancellationToken cancellationToken) => ValueTask.FromResult(BudgetDecision.Unlimited);

    public ValueTask RecordAsync(CallerKey caller, long tokens, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
