using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Conversation sync, shared links and title messages (event ids 3000+). Never a title, a message, a user id or an id (a share id opens the share).</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Error, "Conversation store failed during {Operation} (status {Status}, {ErrorCode})")]
    public static partial void ConversationStoreFailed(ILogger logger, string operation, int status, string errorCode);

    [LoggerMessage(3002, LogLevel.Warning, "A title was not made: {Reason}")]
    public static partial void TitleModelFailed(ILogger logger, string reason);

    [LoggerMessage(3003, LogLevel.Information, "Conversations are kept in blob container {Container} of {Account}")]
    public static partial void ConversationBlobStoreChosen(ILogger logger, string container, string account);

    [LoggerMessage(3004, LogLevel.Information, "No storage account is configured: signed-in users' conversations are kept in this process's memory only")]
    public static partial void ConversationMemoryStoreChosen(ILogger logger);

    [LoggerMessage(3005, LogLevel.Information, "Shared links are kept in blob container {Container} of {Account}")]
    public static partial void ShareBlobStoreChosen(ILogger logger, string container, string account);

    [LoggerMessage(3006, LogLevel.Information, "No storage account is configured: shared links are kept in this process's memory only")]
    public static partial void ShareMemoryStoreChosen(ILogger logger);

    [LoggerMessage(3007, LogLevel.Error, "Share store failed during {Operation} (status {Status}, {ErrorCode})")]
    public static partial void ShareStoreFailed(ILogger logger, string operation, int status, string errorCode);

    [LoggerMessage(3008, LogLevel.Information, "A shared link was created: {MessageCount} messages, {Bytes} bytes")]
    public static partial void ShareCreated(ILogger logger, int messageCount, int bytes);

    [LoggerMessage(3009, LogLevel.Information, "A shared link was revoked")]
    public static partial void ShareRevoked(ILogger logger);
}
