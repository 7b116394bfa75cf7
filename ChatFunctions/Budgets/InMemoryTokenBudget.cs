using System.Collections.Concurrent;
using ChatFunctions.Access;
using ChatFunctions.Configuration;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>Budgets kept in this process only: the standalone host without storage (one instance, lost on restart).</summary>
public sealed class InMemoryTokenBudget(IOptions<TokenBudgetOptions> options, TimeProvider time) : ITokenBudget
{
    private readonly long _limit = options.Value.TokensPerDay;
    private readonly ConcurrentDictionary<(string Day, string Row), long> _spent = new();
    private string? _lastDay;

    public ValueTask<BudgetDecision> CheckAsync(CallerKey caller, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var day = BudgetDay.Of(now);
        var spent = _spent.GetValueOrDefault((day, BudgetDay.RowKey(day, caller)));
        return ValueTask.FromResult(BudgetDay.Decide(spent, _limit, now));
    }

    public ValueTask RecordAsync(CallerKey caller, long tokens, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        var day = BudgetDay.Of(time.GetUtcNow());
        _spent.AddOrUpdate((day, BudgetDay.RowKey(day, caller)), tokens, (_, spent) => spent + tokens);
        if (Interlocked.Exchange(ref _lastDay, day) is { } previous && previous != day)
        {
            // A new day: yesterday's counts are never read again.
            foreach (var key in _spent.Keys.Where(key => key.Day != day))
            {
                _spent.TryRemove(key, out _);
            }
        }

        return ValueTask.CompletedTask;
    }
}
