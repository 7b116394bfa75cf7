using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Sign-in and token budget messages (event ids 100+). Never a token, an address or a user id.</summary>
internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Information, "Chat request refused with {Status}: access token {Reason}")]
    public static partial void AuthRejected(ILogger logger, int status, string reason);

    [LoggerMessage(102, LogLevel.Error, "Sign-in cannot be checked: the OpenID Connect metadata from {Authority} is unavailable")]
    public static partial void AuthMetadataUnavailable(ILogger logger, string authority, Exception exception);

    [LoggerMessage(104, LogLevel.Error, "Token budget store failed during {Operation} ({Kind}); a reservation that failed is refused, a settlement that failed leaves the worst case charged")]
    public static partial void BudgetStoreFailed(ILogger logger, string operation, ChatFunctions.Budgets.BudgetStoreFailureKind kind, Exception exception);

    [LoggerMessage(107, LogLevel.Error, "Chat request refused with 503: the token budget store failed ({Kind})")]
    public static partial void BudgetRefusedStoreDown(ILogger logger, ChatFunctions.Budgets.BudgetStoreFailureKind kind);

    [LoggerMessage(108, LogLevel.Warning, "Chat request goes ahead unreserved: the token budget store failed (transient) and CHAT_TOKEN_BUDGET_TRANSIENT_STORE_ERRORS is Allow")]
    public static partial void BudgetSkippedStoreDown(ILogger logger);

    [LoggerMessage(105, LogLevel.Information, "Token budgets: {Limit} tokens per caller per UTC day, kept in {Store}")]
    public static partial void BudgetsConfigured(ILogger logger, long limit, string store);

    [LoggerMessage(106, LogLevel.Information, "Sign-in: Microsoft Entra ID tokens for client {ClientId} from {MetadataAddress}")]
    public static partial void AuthConfigured(ILogger logger, string clientId, string metadataAddress);
}
