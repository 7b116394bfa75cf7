using System.Diagnostics;
using System.Diagnostics.Metrics;
using ChatFunctions.Diagnostics;

namespace ChatFunctions.Budgets;

/// <summary>Budget metrics on the app's meter. Spent budgets show as chatfunctions.request.rejected with field "budget".</summary>
public sealed class TokenBudgetMetrics
{
    private readonly Counter<long> _recorded;
    private readonly Counter<long> _storeErrors;

    public TokenBudgetMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(ChatStreamMetrics.MeterName);
        _recorded = meter.CreateCounter<long>("chatfunctions.budget.tokens_recorded", "{token}", "Tokens counted against callers' daily budgets.");
        _storeErrors = meter.CreateCounter<long>("chatfunctions.budget.store_errors", "{error}",
            "Budget store failures; the request went ahead (fail-open) and a spend may be lost.");
    }

    public void Recorded(long tokens) => _recorded.Add(tokens);

    public void StoreFailed(string operation) => _storeErrors.Add(1, new TagList { { "chatfunctions.budget.operation", operation } });
}
