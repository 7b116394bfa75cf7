using System.Diagnostics;
using System.Diagnostics.Metrics;
using ChatFunctions.Streaming;

namespace ChatFunctions.Budgets;

/// <summary>Budget metrics on the app's meter. Refusals show as chatfunctions.request.rejected with field "budget",
/// "openReplies" or (503) "budget".</summary>
public sealed class TokenBudgetMetrics
{
    private readonly Counter<long> _reserved;
    private readonly Counter<long> _writes;
    private readonly Counter<long> _conflicts;
    private readonly Counter<long> _storeErrors;

    public TokenBudgetMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(ChatStreamMetrics.MeterName);
        _reserved = meter.CreateCounter<long>("chatfunctions.budget.tokens_reserved", "{token}", "Worst-case tokens reserved against callers' daily budgets before the model is called.");
        _writes = meter.CreateCounter<long>("chatfunctions.budget.writes", "{write}", "Budget rows written; each write carries one or more combined reservations and settlements.");
        _conflicts = meter.CreateCounter<long>("chatfunctions.budget.conflicts", "{conflict}", "Budget writes that met another instance's write (ETag) and were read and tried again.");
        _storeErrors = meter.CreateCounter<long>("chatfunctions.budget.store_errors", "{error}",
            "Budget store failures, by operation and kind (permanent: refused; transient: per CHAT_TOKEN_BUDGET_TRANSIENT_STORE_ERRORS).");
    }

    public void Written(long reservedTokens, int changes)
    {
        _writes.Add(1, new TagList { { "chatfunctions.budget.changes", changes > 1 ? "combined" : "single" } });
        if (reservedTokens > 0)
        {
            _reserved.Add(reservedTokens);
        }
    }

    public void Conflicted() => _conflicts.Add(1);

    public void StoreFailed(string operation, BudgetStoreFailureKind kind) => _storeErrors.Add(1, new TagList
    {
        { "chatfunctions.budget.operation", operation },
        { "error.type", kind == BudgetStoreFailureKind.Permanent ? "permanent" : "transient" },
    });
}
