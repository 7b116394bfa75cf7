using Microsoft.Extensions.AI;

namespace ChatFunctions.Streaming;

/// <summary>A failure after the stream began, sent as the error frame.</summary>
public sealed record StreamError(string Code, string Message, bool Retryable, TimeSpan? RetryAfter = null)
{
    public static class Codes
    {
        public const string RateLimited = "rate_limited";
        public const string UpstreamUnavailable = "upstream_unavailable";
        public const string UpstreamTimeout = "upstream_timeout";
        public const string UpstreamError = "upstream_error";
        public const string InternalError = "internal_error";
    }
}

public enum StreamFinishReason
{
    Stop,
    Length,
    ContentFilter,
    Error,
    Cancelled,
}

public static class StreamFinishReasonExtensions
{
    public static string ToWireName(this StreamFinishReason reason) => reason switch
    {
        StreamFinishReason.Stop => "stop",
        StreamFinishReason.Length => "length",
        StreamFinishReason.ContentFilter => "content_filter",
        StreamFinishReason.Error => "error",
        StreamFinishReason.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };
}

/// <summary>What the done frame reports.</summary>
public sealed record StreamSummary(
    StreamFinishReason FinishReason,
    UsageDetails? Usage,
    TimeSpan? TimeToFirstToken,
    double TokensPerSecond,
    TimeSpan Duration,
    int Chunks);

/// <summary>The response pipe refused a frame: the client stopped reading, whether or not the abort token fired yet.</summary>
public sealed class ClientGoneException : OperationCanceledException
{
    public ClientGoneException()
        : base("The client stopped reading the stream.")
    {
    }

    public ClientGoneException(string? message)
        : base(message)
    {
    }

    public ClientGoneException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
