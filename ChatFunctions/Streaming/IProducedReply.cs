namespace ChatFunctions.Streaming;

/// <summary>Why a stream's producer was told to stop before the model finished.</summary>
public enum StreamStopReason
{
    None,

    /// <summary>Someone asked (DELETE /api/chat/streams/{id}).</summary>
    Cancelled,

    /// <summary>Every reader left and nobody resumed within the grace window.</summary>
    Abandoned,

    /// <summary>The instance is shutting down.</summary>
    Shutdown,
}

/// <summary>
/// A reply as its producer (<see cref="IChatStreamer"/>) sees it: the ids it is known by, the log it writes its frames
/// into, and why it was told to stop, whoever keeps it (the live replies of Resumption).
/// </summary>
public interface IProducedReply
{
    string StreamId { get; }

    string RequestId { get; }

    StreamLog Log { get; }

    StreamStopReason StopReason { get; }
}
