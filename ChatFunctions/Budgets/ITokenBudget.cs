using System.Globalization;
using ChatFunctions.Access;
using ChatFunctions.Chat;

namespace ChatFunctions.Budgets;

/// <summary>
/// Tokens each caller may spend per UTC day (CHAT_TOKEN_BUDGET_PER_DAY), kept as reservations that settle. A request
/// reserves its worst case (input tokens plus its output limit) before the model is called, and only if the day's
/// total stays within the limit; when the reply ends, however it ends, the reservation is replaced by what the model
/// really spent. So the day's total never exceeds the limit, whatever the concurrency and on however many instances
/// (a reservation that never settles, because its instance died, keeps charging its worst case: an overcharge, never a
/// lost spend).
/// </summary>
public interface ITokenBudget
{
    /// <summary>Reserves <paramref name="tokens"/> for <paramref name="caller"/> today if the day's total stays within the
    /// limit. A reservation that lands is never abandoned by a cancelled <paramref name="cancellationToken"/> (it only
    /// stops waiting before the write is sent), so the caller must settle every <see cref="BudgetOutcome.Reserved"/>.</summary>
    ValueTask<BudgetReservation> ReserveAsync(CallerKey caller, long tokens, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the reservation with <paramref name="spent"/> tokens on the reservation's day. Conflicting writers are
    /// retried until the write lands; a store failure after the retries keeps the reservation charged (logged and
    /// measured). Never throws for a storage failure.
    /// </summary>
    ValueTask SettleAsync(BudgetReservation reservation, long spent, CancellationToken cancellationToken);
}

/// <summary>What a reservation came to.</summary>
public enum BudgetOutcome
{
    /// <summary>Budgets are off: nothing is stored, nothing to settle.</summary>
    Unlimited,

    /// <summary>The tokens are reserved; settle them when the reply ends.</summary>
    Reserved,

    /// <summary>The day's budget cannot take this request: too many requests.</summary>
    Spent,

    /// <summary>The store failed; <see cref="BudgetReservation.Failure"/> says how.</summary>
    StoreUnavailable,
}

/// <summary>How a store failure is treated (see <see cref="BudgetStoreFailures"/>).</summary>
public enum BudgetStoreFailureKind
{
    /// <summary>Will not heal by retrying: authentication, authorization, a missing table, a malformed key.</summary>
    Permanent,

    /// <summary>May heal: timeouts, throttling, 5xx, a dropped connection.</summary>
    Transient,
}

/// <summary>The answer to <see cref="ITokenBudget.ReserveAsync"/>.</summary>
/// <param name="Tokens">Reserved tokens (0 unless <see cref="BudgetOutcome.Reserved"/>).</param>
/// <param name="Spent">The day's total after this reservation (or, when refused, as it stands).</param>
/// <param name="Limit">Tokens per day; 0 when budgets are off.</param>
/// <param name="ResetAt">The next UTC midnight, when a new day's budget starts.</param>
public sealed record BudgetReservation(
    BudgetOutcome Outcome, CallerKey Caller, string Day, long Tokens, long Spent, long Limit, DateTimeOffset ResetAt)
{
    public static BudgetReservation Unlimited(CallerKey caller) => new(BudgetOutcome.Unlimited, caller, "", 0, 0, 0, DateTimeOffset.MaxValue);

    /// <summary>Set with <see cref="BudgetOutcome.StoreUnavailable"/>.</summary>
    public BudgetStoreFailureKind? Failure { get; init; }

    /// <summary>The refusal of a spent budget: field <c>budget</c>, a wait until the reset, and <c>resetAt</c>.</summary>
    public Refusal ToSpentRejection(long requested, DateTimeOffset now) =>
        new(RefusalKind.TooManyRequests, "budget",
            $"Today's token budget ({Format(Limit)} tokens) cannot cover this request: {Format(Spent)} are spent or reserved and this one may need {Format(requested)}. It resets at {FormatResetAt()} (midnight UTC).")
        {
            RetryAfter = ResetAt - now,
            Extensions = new Dictionary<string, object?> { ["resetAt"] = FormatResetAt() },
        };

    private static string Format(long tokens) => tokens.ToString("N0", CultureInfo.InvariantCulture);

    private string FormatResetAt() => ResetAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>Budgets off (CHAT_TOKEN_BUDGET_PER_DAY=0): everything is allowed and nothing is stored.</summary>
public sealed class UnlimitedTokenBudget : ITokenBudget
{
    public ValueTask<BudgetReservation> ReserveAsync(CallerKey caller, long tokens, CancellationToken cancellationToken) =>
        ValueTask.FromResult(BudgetReservation.Unlimited(caller));

    public ValueTask SettleAsync(BudgetReservation reservation, long spent, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
