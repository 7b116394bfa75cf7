using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Streaming;

namespace ChatFunctions.Replies;

/// <summary>What a verb of the reply service gives back: the stream to deliver, or why there is none.</summary>
public sealed record ReplyResult(IStreamSource? Source, Refusal? Rejection)
{
    public static ReplyResult Reject(Refusal rejection) => new(null, rejection);
}

/// <summary>A reply to start: who asks, from which client address (rate limits count per address), the id the reply
/// is logged under, and how to read the request, which is read only once the caller is admitted.</summary>
public sealed record ReplyStart(
    Caller Caller,
    string ClientAddress,
    string RequestId,
    Func<CancellationToken, Task<ChatRequestReadResult>> ReadRequest);

/// <summary>
/// The chat reply use case, apart from any host: start a reply, resume one, stop one. It owns the policy and its
/// order (rate limit, the request, the model, open replies and budget; who may resume or stop which reply); the
/// hosts only translate HTTP to these calls and their results back.
/// </summary>
public interface IReplyService
{
    /// <summary>Starts a reply; its source is the first reader of the reply, which goes on apart from it.</summary>
    Task<ReplyResult> StartAsync(ReplyStart start, CancellationToken cancellationToken);

    /// <summary>Continues a reply after frame <paramref name="sequence"/> (0: from its start), wherever it is produced.</summary>
    Task<ReplyResult> ResumeAsync(string streamId, int sequence, Caller caller, CancellationToken cancellationToken);

    /// <summary>Stops a reply wherever it is produced: null once it has stopped, else why not.</summary>
    Task<Refusal?> StopAsync(string streamId, Caller caller, CancellationToken cancellationToken);
}
