namespace ChatFunctions.Models;

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
