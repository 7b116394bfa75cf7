using Microsoft.Extensions.Logging;

namespace ChatFunctions.Diagnostics;

/// <summary>Source-generated log messages. None carries prompt or reply text: only sizes, codes and timings.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Chat stream {RequestId} started: provider {Provider}, model {Model}, {HistoryCount} history items, {MessageChars} message characters")]
    public static partial void StreamStarted(ILogger logger, string requestId, string provider, string model, int historyCount, int messageChars);

    [LoggerMessage(2, LogLevel.Information, "Chat stream {RequestId} finished: {FinishReason}, {Chunks} chunks, first token after {TimeToFirstTokenMs} ms, {DurationMs} ms in all")]
    public static partial void StreamFinished(ILogger logger, string requestId, string finishReason, int chunks, double? timeToFirstTokenMs, double durationMs);

    [LoggerMessage(3, LogLevel.Information, "Chat stream {RequestId} cancelled by the client after {Chunks} chunks")]
    public static partial void StreamCancelled(ILogger logger, string requestId, int chunks);

    [LoggerMessage(4, LogLevel.Warning, "Chat stream {RequestId} failed after {Chunks} chunks: {Code} (upstream status {Status}, retryable {Retryable})")]
    public static partial void StreamFailed(ILogger logger, string requestId, int chunks, string code, int? status, bool retryable, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Chat stream {RequestId}: model answered {Code} (status {Status}) before the first token; retry {Attempt} in {DelayMs} ms")]
    public static partial void RetryingBeforeFirstToken(ILogger logger, string requestId, string code, int? status, int attempt, double delayMs);

    [LoggerMessage(6, LogLevel.Information, "Chat request rejected with {Status}: {Field}")]
    public static partial void RequestRejected(ILogger logger, int status, string field);

    [LoggerMessage(7, LogLevel.Warning, "Chat stream {RequestId}: the model was silent for {TimeoutSeconds} s; ending the stream")]
    public static partial void UpstreamIdleTimeout(ILogger logger, string requestId, int timeoutSeconds);

    [LoggerMessage(8, LogLevel.Information, "Standalone host (no Functions host found): serving {FunctionCount} functions under /{RoutePrefix} and the chat page from {WebRoot}")]
    public static partial void StandaloneStarted(ILogger logger, int functionCount, string routePrefix, string webRoot);

    [LoggerMessage(9, LogLevel.Debug, "The model's path was warmed up in {ElapsedMs} ms: client, parser, token and connection ready")]
    public static partial void ModelWarmedUp(ILogger logger, double elapsedMs);

    [LoggerMessage(10, LogLevel.Information, "Warming up the model's path failed ({ExceptionType}); the first request will do the work itself")]
    public static partial void ModelWarmUpFailed(ILogger logger, string exceptionType);
}
