using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;

namespace ChatFunctions.Models;

/// <summary>
/// Maps what the SDKs throw to the stream's error vocabulary: whether it is worth retrying and when.
/// The messages are ours and generic: upstream error bodies may echo the prompt, so they are never forwarded.
/// </summary>
public static class UpstreamErrorClassifier
{
    public static ChatUpstreamException Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        switch (exception)
        {
            case ChatUpstreamException upstream:
                return upstream;
            case ClientResultException result:
                return FromStatus(result.Status, result.GetRawResponse(), result);
            case HttpRequestException http when http.StatusCode is { } status:
                return FromStatus((int)status, null, http);
            case HttpRequestException or IOException:
                return new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamUnavailable,
                    "The connection to the model service failed.", Retryable: true), exception);
            case TimeoutException:
                return new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamTimeout,
                    "The model service did not answer in time.", Retryable: true), exception);
            default:
                return new ChatUpstreamException(new StreamError(StreamError.Codes.InternalError,
                    "The server failed while streaming the reply.", Retryable: false), exception);
        }
    }

    /// <summary>
    /// What leaves the model client: the classified error, carrying only a loggable inner exception (never the SDK's,
    /// whose message holds the service's response body).
    /// </summary>
    public static ChatUpstreamException Sanitize(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is ChatUpstreamException upstream)
        {
            return upstream;
        }

        var classified = Classify(exception);
        return new ChatUpstreamException(classified.Error, ForLogging(exception)) { Status = classified.Status };
    }

    /// <summary>
    /// An error object sent inside a 200 event stream (<c>data: {"error": {...}}</c>): the service failed mid-reply.
    /// Classified by its code (an HTTP status, as some OpenAI-compatible servers send) or type; retryable unless it says
    /// the request itself was at fault, since the same request was accepted a moment ago.
    /// </summary>
    public static ChatUpstreamException FromStreamError(string? type, string? code)
    {
        var detail = new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"An error object in the model's event stream (type '{Identifier(type)}', code '{Identifier(code)}'; message withheld: it may quote the prompt)."));
        if (int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var status) && status is >= 400 and < 600)
        {
            return FromStatus(status, null, detail);
        }

        var kind = $"{type} {code}".ToUpperInvariant();
        StreamError error =
            kind.Contains("RATE_LIMIT", StringComparison.Ordinal) || kind.Contains("TOO_MANY", StringComparison.Ordinal)
                ? new(StreamError.Codes.RateLimited, "The model service is rate limiting requests.", true)
            : kind.Contains("TIMEOUT", StringComparison.Ordinal)
                ? new(StreamError.Codes.UpstreamTimeout, "The model service timed out.", true)
            : kind.Contains("INVALID_REQUEST", StringComparison.Ordinal) || kind.Contains("CONTEXT_LENGTH", StringComparison.Ordinal)
                || kind.Contains("CONTENT_FILTER", StringComparison.Ordinal) || kind.Contains("AUTHENTICATION", StringComparison.Ordinal)
                || kind.Contains("PERMISSION", StringComparison.Ordinal) || kind.Contains("NOT_FOUND", StringComparison.Ordinal)
                ? new(StreamError.Codes.UpstreamError, "The model service refused the request.", false)
            : kind.Contains("SERVER_ERROR", StringComparison.Ordinal) || kind.Contains("OVERLOADED", StringComparison.Ordinal)
                || kind.Contains("UNAVAILABLE", StringComparison.Ordinal) || kind.Contains("INTERNAL", StringComparison.Ordinal)
                ? new(StreamError.Codes.UpstreamUnavailable, "The model service failed while writing the reply.", true)
            : new(StreamError.Codes.UpstreamError, "The model service failed while writing the reply.", true);
        return new ChatUpstreamException(error, detail);
    }

    /// <summary>A type or code as it may be logged: short identifiers only (a proxy could put anything there).</summary>
    private static string Identifier(string? value) =>
        value is { Length: > 0 and <= 64 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? value : "?";

    /// <summary>
    /// The exception as it may be logged. The SDK puts the model service's response body in
    /// ClientResultException.Message, and error bodies may quote the prompt: such an exception is replaced by one
    /// that keeps only its type and status.
    /// </summary>
    public static Exception ForLogging(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            // Status 0: no response, so no body; the network exception inside is worth keeping.
            if (e is ClientResultException { Status: > 0 } result)
            {
                return new ChatUpstreamException(string.Create(CultureInfo.InvariantCulture,
                    $"{exception.GetType().FullName}: HTTP {result.Status} from the model service (response body withheld: it may quote the prompt)."))
                {
                    Status = result.Status,
                };
            }
        }

        return exception;
    }

    private static ChatUpstreamException FromStatus(int status, PipelineResponse? response, Exception inner)
    {
        var retryAfter = response is null ? null : ReadRetryAfter(response.Headers);
        StreamError error = status switch
        {
            429 => new(StreamError.Codes.RateLimited, "The model service is rate limiting requests.", true, retryAfter),
            408 or 504 => new(StreamError.Codes.UpstreamTimeout, "The model service timed out.", true, retryAfter),
            >= 500 => new(StreamError.Codes.UpstreamUnavailable, "The model service is unavailable.", true, retryAfter),
            401 or 403 => new(StreamError.Codes.UpstreamError, "The server is not authorized to use the model.", false),
            404 => new(StreamError.Codes.UpstreamError, "The model deployment was not found.", false),
            0 => new(StreamError.Codes.UpstreamUnavailable, "The connection to the model service failed.", true),
            _ => new(StreamError.Codes.UpstreamError, "The model service refused the request.", false),
        };
        return new ChatUpstreamException(error, inner) { Status = status == 0 ? null : status };
    }

    /// <summary>Reads retry-after-ms (Azure OpenAI), then retry-after in seconds or as an HTTP date.</summary>
    internal static TimeSpan? ReadRetryAfter(PipelineResponseHeaders headers)
    {
        if (headers.TryGetValue("retry-after-ms", out var ms)
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
        {
            return TimeSpan.FromMilliseconds(millis);
        }

        if (headers.TryGetValue("x-ms-retry-after-ms", out ms)
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out millis) && millis >= 0)
        {
            return TimeSpan.FromMilliseconds(millis);
        }

        if (headers.TryGetValue("retry-after", out var value) && value is not null)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
            {
                var delta = date - DateTimeOffset.UtcNow;
                return delta > TimeSpan.Zero ? delta : TimeSpan.Zero;
            }
        }

        return null;
    }
}
