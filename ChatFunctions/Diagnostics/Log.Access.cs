using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Sign-in messages (event ids 100+; the token budget's 104-108 are Budgets/BudgetLog.cs). Never a token, an address or a user id.</summary>
internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Information, "Chat request refused with {Status}: access token {Reason}")]
    public static partial void AuthRejected(ILogger logger, int status, string reason);

    [LoggerMessage(102, LogLevel.Error, "Sign-in cannot be checked: the OpenID Connect metadata from {Authority} is unavailable")]
    public static partial void AuthMetadataUnavailable(ILogger logger, string authority, Exception exception);

    [LoggerMessage(106, LogLevel.Information, "Sign-in: Microsoft Entra ID tokens for client {ClientId} from {MetadataAddress}")]
    public static partial void AuthConfigured(ILogger logger, string clientId, string metadataAddress);
}
