
namespace ChatFunctions.Models;

/// <summary>A model call that failed in a way the client can be told about (thrown by the demo model, mapped from SDK errors).</summary>
public sealed class ChatUpstreamException : Exception
{
    public ChatUpstreamException(StreamError error, Exception? innerException = null)
        : base(error?.Message, innerException)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
    }

    public ChatUpstreamException()
        : this(new StreamError(StreamError.Codes.UpstreamError, "The model failed.", Retryable: false))
    {
    }

    public ChatUpstreamException(string message)
        : this(new StreamError(StreamError.Codes.UpstreamError, message, Retryable: false))
    {
    }

    public ChatUpstreamException(string message, Exception innerException)
        : this(new StreamError(StreamError.Codes.UpstreamError, message, Retryable: false), innerException)
    {
    }

    public StreamError Error { get; }

    /// <summary>HTTP status from the model service, when there was one.</summary>
    public int? Status { get; init; }
}
