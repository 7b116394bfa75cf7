using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Resumption;

/// <summary>The registry of live replies with its producer, persister and grace watcher, wired as the host wires them.</summary>
internal static class LiveRepliesFactory
{
    public static LiveReplies Create(
        IChatStreamer streamer,
        IStreamLogStore store,
        IOptions<ResumeOptions> options,
        IOptions<ChatServiceOptions> chatOptions,
        TimeProvider time,
        IChatStreamObserver observer)
    {
        var persister = new ReplyPersister(store, options, time, observer, NullLogger<ReplyPersister>.Instance);
        return new LiveReplies(
            new ReplyProducer(streamer, persister, options, time, NullLogger<ReplyProducer>.Instance),
            new GraceWatcher(store, options, time, observer, NullLogger<GraceWatcher>.Instance),
            persister);
    }
}
