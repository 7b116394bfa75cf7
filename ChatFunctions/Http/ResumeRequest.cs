using ChatFunctions.Chat;
using ChatFunctions.Resumption;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Http;

/// <summary>What a resume or stop request names: the stream (its route value, checked before anything is looked up, so
/// a hostile id never reaches the store) and the position to continue from.</summary>
public static class ResumeRequest
{
    public const string LastEventIdHeader = "Last-Event-ID";
    public const string LastEventIdQuery = "lastEventId";

    /// <summary>The position to continue from: the Last-Event-ID header, else the lastEventId query parameter;
    /// none means from the first frame. <paramref name="streamId"/> null takes the stream from the id itself.</summary>
    public static (string? StreamId, int Sequence, Refusal? Rejection) ReadPosition(HttpRequest request, string? streamId)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers[LastEventIdHeader];
        string? value = header.Count > 0 ? header.ToString() : request.Query[LastEventIdQuery].ToString();
        if (string.IsNullOrEmpty(value))
        {
            return streamId is null
                ? (null, 0, Invalid("A Last-Event-ID is required."))
                : (streamId, 0, null);
        }

        if (header.Count > 1 || !StreamId.TryParseEventId(value, out var eventStream, out var sequence))
        {
            return (null, 0, Invalid("Last-Event-ID must be '<streamId>:<frame number>' as sent in the stream's id fields."));
        }

        if (streamId is not null && !string.Equals(eventStream, streamId, StringComparison.Ordinal))
        {
            return (null, 0, Invalid("Last-Event-ID names another stream."));
        }

        return (eventStream, sequence, null);
    }

    /// <summary>Null when <paramref name="streamId"/> (the {streamId} of /api/chat/streams/{streamId}) is a stream id,
    /// else the problem naming it.</summary>
    public static Refusal? CheckStreamId(string? streamId) => StreamId.IsValid(streamId)
        ? null
        : Refusal.Invalid("streamId", "The stream id must be the 22-character id from the stream's meta frame.");

    private static Refusal Invalid(string detail) => new(RefusalKind.Invalid, StreamResumer.PositionField, detail);
}
