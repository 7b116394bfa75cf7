using Microsoft.Extensions.AI;

namespace ChatFunctions.Streaming;

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
