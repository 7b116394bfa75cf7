using System.Globalization;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>Either what a reply may spend (settle it when the reply ends) or the refusal.</summary>
public sealed record SpendAdmission(ReplySpend? Spend, Refusal? Rejection);

/// <summary>
/// Decides, before the model is called, whether a caller may start a reply: an open-reply slot
/// (<see cref="OpenReplies"/>), then a reservation of the reply's worst case against the day's budget (input tokens
/// counted by <see cref="InputTokens"/> plus CHAT_MAX_OUTPUT_TOKENS). A store that fails permanently refuses (unavailable);
/// a transient failure refuses too unless CHAT_TOKEN_BUDGET_TRANSIENT_STORE_ERRORS is <c>Allow</c>.
/// </summary>
public sealed class SpendGate(
    ITokenBudget budget,
    OpenReplies openReplies,
    IOptions<TokenBudgetOptions> options,
    IOptions<ChatServiceOptions> chatOptions,
    TimeProvider time,
    ILogger<SpendGate> logger)
{
    private readonly TokenBudgetOptions _options = options.Value;
    private readonly ChatServiceOptions _chat = chatOptions.Value;

    /// <summary>How long a refused caller is told to wait for an open-reply slot or the store.</summary>
    internal static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    public ValueTask<SpendAdmission> AdmitAsync(CallerKey caller, ChatRequest request, CancellationToken cancellationToken) =>
        AdmitAsync(caller, request, _chat.SystemPrompt, _chat.MaxOutputTokens, cancellationToken);

    /// <summary>As for a reply, for a call with its own instructions and output limit (a title).</summary>
    public async ValueTask<SpendAdmission> AdmitAsync(CallerKey caller, ChatRequest request, string systemPrompt, int maxOutputTokens, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!openReplies.TryOpen(caller))
        {
            return Refuse(new Refusal(RefusalKind.TooManyRequests, "openReplies",
                $"This caller already has {openReplies.Limit.ToString(CultureInfo.InvariantCulture)} replies open (a disconnected reply stays open for its grace window); stop one or wait for one to finish.")
            {
                RetryAfter = RetryAfter,
            });
        }

        var admitted = false;
        try
        {
            if (_options.TokensPerDay == 0)
            {
                admitted = true;
                return Admit(BudgetReservation.Unlimited(caller));
            }

            var worstCase = InputTokens.Count(request, systemPrompt) + maxOutputTokens;
            var reservation = await budget.ReserveAsync(caller, worstCase, cancellationToken);
            switch (reservation.Outcome)
            {
                case BudgetOutcome.Reserved or BudgetOutcome.Unlimited:
                    admitted = true;
                    return Admit(reservation);
                case BudgetOutcome.Spent:
                    return Refuse(reservation.ToSpentRejection(worstCase, time.GetUtcNow()));
                default:
                    var kind = reservation.Failure ?? BudgetStoreFailureKind.Transient;
                    if (kind == BudgetStoreFailureKind.Transient && _options.TransientStoreErrors == TransientBudgetStorePolicy.Allow)
                    {
                        // Unreserved: its real spend is added when it ends (see ITokenBudget.SettleAsync).
                        BudgetLog.BudgetSkippedStoreDown(logger);
                        admitted = true;
                        return Admit(reservation);
                    }

                    BudgetLog.BudgetRefusedStoreDown(logger, kind);
                    return Refuse(new Refusal(RefusalKind.Unavailable, "budget",
                        "The token budget cannot be checked right now (its store is unavailable), so no reply is started.")
                    {
                        RetryAfter = RetryAfter,
                    });
            }
        }
        finally
        {
            if (!admitted)
            {
                openReplies.Close(caller);
            }
        }
    }

    /// <summary>Settles what an admitted reply holds to what it spent: <paramref name="summary"/> counts it (null: the
    /// reply failed and its spend is unknown, so its worst case stays charged).</summary>
    public ValueTask SettleAsync(ReplySpend spend, ChatRequest request, StreamSummary? summary)
    {
        ArgumentNullException.ThrowIfNull(spend);
        return summary is null ? spend.SettleAsync(null) : spend.SettleAsync(request, _chat.SystemPrompt, summary);
    }

    private SpendAdmission Admit(BudgetReservation reservation) => new(new ReplySpend(budget, openReplies, reservation), null);

    private static SpendAdmission Refuse(Refusal rejection) => new(null, rejection);
}

/// <summary>
/// What one admitted reply holds: an open-reply slot and a budget reservation. <see cref="SettleAsync"/> gives both
/// back once (the first call wins), whether the reply finished, failed, was stopped or ran out its grace window.
/// </summary>
public sealed class ReplySpend
{
    private readonly ITokenBudget _budget;
    private readonly OpenReplies _openReplies;
    private int _settled;

    internal ReplySpend(ITokenBudget budget, OpenReplies openReplies, BudgetReservation reservation)
    {
        _budget = budget;
        _openReplies = openReplies;
        Reservation = reservation;
    }

    public BudgetReservation Reservation { get; }

    /// <summary>Settles to what <paramref name="summary"/> says the reply spent (<see cref="TokenUsage.ToRecord"/>); with
    /// budgets off only the slot is given back, and nothing is counted.</summary>
    public ValueTask SettleAsync(ChatRequest request, string systemPrompt, StreamSummary summary) =>
        SettleAsync(Reservation.Outcome is BudgetOutcome.Reserved or BudgetOutcome.StoreUnavailable ? TokenUsage.ToRecord(request, systemPrompt, summary) : null);

    /// <summary>Replaces the reservation with <paramref name="spent"/> tokens (null: keep the worst case charged, for
    /// a reply whose spend is unknown) and frees the slot. Never throws for a storage failure.</summary>
    public async ValueTask SettleAsync(long? spent)
    {
        if (Interlocked.Exchange(ref _settled, 1) == 1)
        {
            return;
        }

        _openReplies.Close(Reservation.Caller);
        if (spent is { } tokens)
        {
            await _budget.SettleAsync(Reservation, tokens, CancellationToken.None);
        }
    }
}
