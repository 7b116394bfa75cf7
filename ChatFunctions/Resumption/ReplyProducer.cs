using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>
/// Runs a live reply's producer (the relay, <see cref="IChatStreamer"/>) apart from any connection, beside its
/// persister; gives whoever started the reply its ending (what it cost) before its done frame goes out; and decides
/// how long the finished reply stays in memory.
/// </summary>
public sealed class ReplyProducer(
    IChatStreamer streamer,
    ReplyPersister persister,
    IOptions<ResumeOptions> options,
    TimeProvider time,
    ILogger<ReplyProducer> logger)
{
    /// <summary>The longest the done frame waits for <c>onEnded</c> (recording what the reply cost): a slow store
    /// delays done by at most this.</summary>
    public static readonly TimeSpan OnEndedWait = TimeSpan.FromSeconds(2);

    private readonly ResumeOptions _options = options.Value;

    private TimeSpan Linger => _options.Grace > TimeSpan.FromSeconds(5) ? _options.Grace : TimeSpan.FromSeconds(5);

    /// <summary>Produces <paramref name="stream"/>; completes when the reply may leave memory: at once when the store
    /// holds all of it, else after the grace window, so that a reconnect here can still replay it.
    /// <paramref name="onEnded"/> hears once how the reply ended (null: the producer failed, what it spent is unknown).</summary>
    public async Task RunAsync(LiveReply stream, ChatRequest request, Func<StreamSummary?, ValueTask>? onEnded)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var persisting = persister.PersistAsync(stream);

        // The caller goes on to attach its reader; the model call runs on its own, apart from any connection.
        await Task.Yield();
        try
        {
            // Whether the reply finished, failed, was stopped or ran out its grace window, and whether or not anyone
            // is still reading, its ending is told before its done frame goes out, so the caller's next request
            // already sees what it cost (on any instance).
            await streamer.ProduceAsync(stream, request, summary => EndedAsync(onEnded, summary), stream.Stopping);
        }
        catch (Exception ex)
        {
            // ProduceAsync ends every stream with a done frame and does not throw; if it ever did, readers still end,
            // and what the reply spent is unknown.
            ResumptionLog.ProducerFailed(logger, stream.RequestId, ex);
            stream.Log.Complete();
            await (onEnded?.Invoke(null) ?? ValueTask.CompletedTask);
        }

        stream.MarkEnded();

        // Once the store has the whole reply, it leaves memory at once: a late resume here reads the same bytes from
        // the store (one read: nothing left to follow), and a reader still attached keeps the log it reads. Under a
        // steady load of short replies, replies kept for the grace window would outnumber the open ones several times.
        // A reply the store lacks stays for the window, so that a reconnect here can still replay it.
        if (!await persisting)
        {
            await Task.Delay(Linger, time, CancellationToken.None);
        }
    }

    private async Task EndedAsync(Func<StreamSummary?, ValueTask>? onEnded, StreamSummary summary)
    {
        if (onEnded is not null)
        {
            await onEnded(summary).AsTask().WaitAsync(OnEndedWait, time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
