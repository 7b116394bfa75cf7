using Microsoft.Extensions.Logging;

namespace ChatFunctions.Resumption;

/// <summary>Log messages of the live streams, their persistence and resumes (ids 2101+). No prompt or reply text.</summary>
internal static partial class ResumptionLog
{
    [LoggerMessage(2101, LogLevel.Warning, "Chat stream {RequestId}: stream log {Operation} failed ({Failure}); the live reply goes on, resuming it elsewhere may not")]
    public static partial void StoreWriteFailed(ILogger logger, string requestId, string operation, string failure);

    [LoggerMessage(2102, LogLevel.Information, "Chat stream {RequestId}: no reader came back within {GraceSeconds} s; stopping the model call")]
    public static partial void StreamAbandoned(ILogger logger, string requestId, int graceSeconds);

    [LoggerMessage(2103, LogLevel.Error, "Chat stream {RequestId}: the producer failed unexpectedly")]
    public static partial void ProducerFailed(ILogger logger, string requestId, Exception exception);

    [LoggerMessage(2104, LogLevel.Information, "Chat stream resumed after frame {Sequence} from {Source}")]
    public static partial void StreamResumed(ILogger logger, int sequence, string source);

    [LoggerMessage(2105, LogLevel.Information, "Chat stream {RequestId} stop requested")]
    public static partial void StopRequested(ILogger logger, string requestId);

    [LoggerMessage(2106, LogLevel.Warning, "Chat stream client dropped: it accepted nothing for {StallSeconds} s")]
    public static partial void ClientStalled(ILogger logger, int stallSeconds);

    [LoggerMessage(2107, LogLevel.Warning, "Stored chat stream stopped growing for {Seconds} s without its last frame; ending the resumed reply as incomplete")]
    public static partial void StoredStreamStale(ILogger logger, int seconds);

    [LoggerMessage(2108, LogLevel.Information, "Chat stream stop written to the store for the instance producing it; waiting for its ending")]
    public static partial void StopForwarded(ILogger logger);

    [LoggerMessage(2109, LogLevel.Warning, "Chat stream stop not confirmed: the producing instance stored no ending within {WaitMilliseconds} ms")]
    public static partial void StopNotConfirmed(ILogger logger, int waitMilliseconds);
}
