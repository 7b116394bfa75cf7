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

        /// <summary>The reply did not end the way a complete reply ends (no finish reason, an error object in the
        /// stream, a body that was not an event stream, a shutdown): what was sent stands, the rest is missing.</summary>
        public const string Incomplete = "incomplete";
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
    int Chunks)
{
    /// <summary>From the request to the model's acceptance of it (its response headers); null when it never answered
    /// or the model has no such moment (the demo without a think).</summary>
    public TimeSpan? TimeToFirstByte { get; init; }

    /// <summary>From the model's acceptance to the first token: the time a reasoning model spent thinking.</summary>
    public TimeSpan? Thinking { get; init; }
}
