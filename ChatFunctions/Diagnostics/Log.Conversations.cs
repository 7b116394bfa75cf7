using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Conversation sync and title messages (event ids 3000+). Never a title, a message, a user id or an id.</summary>
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
}
