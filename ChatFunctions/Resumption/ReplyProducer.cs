using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>
/// Runs a live reply's producer (the relay, <see cref="IChatStreamer"/>) apart from any connection, beside its
/// persister; settles what the reply cost before its done frame goes out; and decides how long the finished reply
/// stays in memory.
/// </summary>
public sealed class ReplyProducer(
    IChatStreamer streamer,
    ReplyPersister persister,
    IOptions<ResumeOptions> options,
    IOptions<ChatServiceOptions> chatOptions,
    TimeProvider time,
    ILogger<ReplyProducer> logger)
{
    private static readonly TimeSpan BudgetRecordWait = TimeSpan.FromSeconds(2);

    private readonly ResumeOptions _options = options.Value;
    private readonly string _systemPrompt = chatOptions.Value.SystemPrompt;

    private TimeSpan Linger => _options.Grace > TimeSpan.FromSeconds(5) ? _options.Grace : TimeSpan.FromSeconds(5);

    /// <summary>Produces <paramref name="stream"/> and ends its log; completes when the reply may leave memory: at once
    /// when the store holds all of it, else after the grace window, so that a reconnect here can still replay it.</summary>
    public async Task RunAsync(LiveReply stream, ChatRequest request, ReplySpend? spend)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var persisting = persister.PersistAsync(stream);

        // The caller goes on to attach its reader; the model call runs on its own, apart from any connection.
        await Task.Yield();
        try
        {
            var summary = await streamer.ProduceAsync(stream, request, stream.Stopping);
            // The reservation settles to what the reply cost whether or not anyone is still reading (finished, failed,
            // stopped or out of its grace window alike), and before its done frame goes out, so the caller's next
            // request already sees it (on any instance); a slow store delays done by at most this.
            if (spend is not null)
            {
                await spend.SettleAsync(request, _systemPrompt, summary).AsTask()
                    .WaitAsync(BudgetRecordWait, time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        catch (Exception ex)
        {
            // ProduceAsync ends every stream with a done frame and does not throw; if it ever did, readers still end,
            // and the reservation stays charged (what the reply spent is unknown).
            ResumptionLog.ProducerFailed(logger, stream.RequestId, ex);
            await (spend?.SettleAsync(null) ?? ValueTask.CompletedTask);
        }

        stream.Log.Complete();
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
}
