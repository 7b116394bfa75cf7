using ChatFunctions.Access;
using ChatFunctions.Configuration;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>Budgets kept in this process only: the standalone host without storage (one instance, lost on restart).</summary>
public sealed class InMemoryTokenBudget(IOptions<TokenBudgetOptions> options, TimeProvider time) : ITokenBudget
{
    private readonly long _limit = options.Value.TokensPerDay;
    private readonly Dictionary<(string Day, string Row), long> _spent = [];
    private readonly Lock _gate = new();
    private string? _lastDay;

    public ValueTask<BudgetReservation> ReserveAsync(CallerKey caller, long tokens, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        var now = time.GetUtcNow();
        var day = BudgetDay.Of(now);
        var key = (day, BudgetDay.RowKey(day, caller));
        lock (_gate)
        {
            ForgetEarlierDays(day);
            var spent = _spent.GetValueOrDefault(key);
            if (!BudgetDay.Fits(spent, tokens, _limit))
            {
                return ValueTask.FromResult(new BudgetReservation(BudgetOutcome.Spent, caller, day, 0, spent, _limit, BudgetDay.NextReset(now)));
            }

            _spent[key] = spent + tokens;
            return ValueTask.FromResult(new BudgetReservation(BudgetOutcome.Reserved, caller, day, tokens, spent + tokens, _limit, BudgetDay.NextReset(now)));
        }
    }

    public ValueTask SettleAsync(BudgetReservation reservation, long spent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        ArgumentOutOfRangeException.ThrowIfNegative(spent);
        var key = (reservation.Day, BudgetDay.RowKey(reservation.Day, reservation.Caller));
        lock (_gate)
        {
            // A reservation from a day already forgotten has nothing left to correct.
            if (_spent.TryGetValue(key, out var total))
            {
                _spent[key] = Math.Max(0, total + spent - reservation.Tokens);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The spend counted for <paramref name="caller"/> today (tests and the benchmark's checks).</summary>
    public long SpentToday(CallerKey caller)
    {
        var day = BudgetDay.Of(time.GetUtcNow());
        lock (_gate)
        {
            return _spent.GetValueOrDefault((day, BudgetDay.RowKey(day, caller)));
        }
    }

    private void ForgetEarlierDays(string day)
    {
        if (_lastDay == day)
        {
            return;
        }

        // A new day: earlier days' totals are never read again.
        _lastDay = day;
        foreach (var key in _spent.Keys.Where(key => key.Day != day).ToList())
        {
            _spent.Remove(key);
        }
    }
}
