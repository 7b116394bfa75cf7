using Microsoft.Extensions.Logging;

namespace ChatFunctions.Budgets;

/// <summary>Token budget messages (event ids 104-108, beside sign-in's in Diagnostics/Log.Access.cs). Never a caller
/// key, an address or a user id.</summary>
internal static partial class BudgetLog
{
    [LoggerMessage(104, LogLevel.Error, "Token budget store failed during {Operation} ({Kind}); a reservation that failed is refused, a settlement that failed leaves the worst case charged")]
    public static partial void BudgetStoreFailed(ILogger logger, string operation, BudgetStoreFailureKind kind, Exception exception);

    [LoggerMessage(107, LogLevel.Error, "Chat request refused with 503: the token budget store failed ({Kind})")]
    public static partial void BudgetRefusedStoreDown(ILogger logger, BudgetStoreFailureKind kind);

    [LoggerMessage(108, LogLevel.Warning, "Chat request goes ahead unreserved: the token budget store failed (transient) and CHAT_TOKEN_BUDGET_TRANSIENT_STORE_ERRORS is Allow")]
    public static partial void BudgetSkippedStoreDown(ILogger logger);

    [LoggerMessage(105, LogLevel.Information, "Token budgets: {Limit} tokens per caller per UTC day, kept in {Store}")]
    public static partial void BudgetsConfigured(ILogger logger, long limit, string store);
}
