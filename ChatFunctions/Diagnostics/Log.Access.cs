using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Sign-in and token budget messages (event ids 100+). Never a token, an address or a user id.</summary>
internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Information, "Chat request refused with {Status}: access token {Reason}")]
    public static partial void AuthRejected(ILogger logger, int status, string reason);

    [LoggerMessage(102, LogLevel.Error, "Sign-in cannot be checked: the OpenID Connect metadata from {Authority} is unavailable")]
    public static partial void AuthMetadataUnavailable(ILogger logger, string authority, Exception exception);

    [LoggerMessage(104, LogLevel.Warning, "Token budget store unavailable during {Operation}; failing open (the request goes ahead, the spend may be lost)")]
    public static partial void BudgetStoreUnavailable(ILogger logger, string operation, Exception exception);

    [LoggerMessage(105, LogLevel.Information, "Token budgets: {Limit} tokens per caller per UTC day, kept in {Store}")]
    public static partial void BudgetsConfigured(ILogger logger, long limit, string store);

    [LoggerMessage(106, LogLevel.Information, "Sign-in: Microsoft Entra ID tokens for client {ClientId} from {MetadataAddress}")]
    public static partial void AuthConfigured(ILogger logger, string clientId, string metadataAddress);
}
