using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Streaming;

public interface IChatStreamer
{
    /// <summary>Produces one reply into the stream's log: meta, chunks, at most one error, then exactly one done, which
    /// ends the log (<see cref="StreamLog.Complete"/>). <paramref name="beforeDone"/> runs between the model call's end
    /// and the done frame, so that what the reply cost is counted before its client learns it ended; the caller bounds
    /// how long it takes. Never throws; <paramref name="cancellationToken"/> stops the model call (the stream says why).</summary>
    Task<StreamSummary> ProduceAsync(IProducedReply stream, ChatRequest request, Func<StreamSummary, Task> beforeDone, CancellationToken cancellationToken);
}

/// <summary>
/// The relay: reads the model's stream and writes frames into the stream's log, which its readers deliver. Retries
/// 429/5xx only before the first token and within a budget; after that a failure becomes an error frame, so nothing
/// already sent is lost or repeated. A reply that did not end the way a complete reply ends is never called
/// complete. While an attached reader is far behind, the model is not read (backpressure).
/// </summary>
public sealed class ChatStreamer(
    IChatModelProvider provider,
    IOptions<ChatServiceOptions> options,
    TimeProvider time,
    IChatStreamObserver observer,
    ILogger<ChatStreamer> logger) : IChatStreamer
{
    /// <summary>How far (bytes) an attached reader may fall behind before the model is no longer read. With Kestrel's
    /// own response buffer (64 KiB) this bounds what a slow client makes the server hold beyond the reply itself.</summary>
    public const int ReaderHighWaterBytes = 16 * 1024;

    private readonly ChatServiceOptions _options = options.Value;

    /// <summary>The most a reply's log may hold; an upstream that sends more is cut off with an error frame.</summary>
    public long MaxReplyBytes => Math.Max(1024L * 1024, _options.MaxOutputTokens * 64L);

    public async Task<StreamSummary> ProduceAsync(IProducedReply stream, ChatRequest request, Func<StreamSummary, Task> beforeDone, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(beforeDone);
        var started = time.GetTimestamp();
        var progress = new StreamProgress();
        var log = stream.Log;
        using var frames = new SseFrameWriter(log, stream.StreamId);
        using var scope = observer.StreamStarted(provider.Name, provider.Model);
        Log.StreamStarted(logger, stream.RequestId, provider.Name, provider.Model, request.History.Count, request.Message.Length);

        frames.WriteMeta(stream.RequestId, stream.StreamId, provider.Name, provider.Model);
        log.Publish();

        StreamFinishReason finishReason;
        try
        {
            finishReason = await RelayWithRetriesAsync(stream, request, frames, progress, started, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            finishReason = StreamFinishReason.Cancelled;
        }

        if (finishReason == StreamFinishReason.Cancelled && stream.StopReason == StreamStopReason.Shutdown)
        {
            // Not the user's choice: say the reply is cut off, and that asking again may work.
            progress.Error = new StreamError(StreamError.Codes.Incomplete, "The reply was cut off before it finished.", Retryable: true);
            frames.WriteError(progress.Error);
            finishReason = StreamFinishReason.Error;
        }

        var summary = Summarize(finishReason, progress, started);
        if (finishReason == StreamFinishReason.Cancelled)
        {
            Log.StreamCancelled(logger, stream.RequestId, progress.Chunks);
        }
        else
        {
            Log.StreamFinished(logger, stream.RequestId, finishReason.ToWireName(), progress.Chunks, summary.TimeToFirstToken?.TotalMilliseconds, summary.Duration.TotalMilliseconds);
        }

        scope.Completed(summary, progress.Error);

        await beforeDone(summary);

        // The done frame always ends the log, whoever is reading now: a reader that resumes later sees how it ended.
        frames.WriteDone(summary);
        log.Complete();
        return summary;
    }

    private async Task<StreamFinishReason> RelayWithRetriesAsync(
        IProducedReply stream, ChatRequest request, SseFrameWriter frames, StreamProgress progress, long started, CancellationToken cancellationToken)
    {
        var messages = BuildMessages(request);
        var chatOptions = new ChatOptions
        {
            MaxOutputTokens = _options.MaxOutputTokens,
            Temperature = _options.Temperature,
        };
        var retryBudget = TimeSpan.FromSeconds(_options.RetryBudgetSeconds);

        for (var attempt = 1; ; attempt++)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Exception failureCause;
            var silence = 0;
            progress.AcceptedTimestamp = null;
            try
            {
                return await RelayOnceAsync(stream.Log, messages, chatOptions, frames, progress, started, idle, cancellationToken);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Not a stop: our idle timeout.
                silence = progress.Chunks == 0 && progress.AcceptedTimestamp is not null ? _options.ThinkingTimeoutSeconds : _options.UpstreamIdleTimeoutSeconds;
                Log.UpstreamIdleTimeout(logger, stream.RequestId, silence);
                failureCause = ex;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A stop aborts the model call wherever it is: a read cut short surfaces as an I/O error, a reply cut
                // off as incomplete. Whatever it surfaced as, it is the stop, not a failure of the model.
                cancellationToken.ThrowIfCancellationRequested();
                failureCause = ex;
            }

            var failure = failureCause is OperationCanceledException
                ? new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamTimeout,
                    $"The model sent nothing for {silence} seconds.", Retryable: true), failureCause)
                : UpstreamErrorClassifier.Classify(failureCause);

            var delay = failure.Error.RetryAfter ?? Backoff(attempt);
            // Retried only while the client has seen nothing of the model's: a reasoning summary counts, as text does.
            if (progress.Chunks == 0 && progress.ReasoningFrames == 0 && failure.Error.Retryable && attempt < _options.RetryMaxAttempts
                && time.GetElapsedTime(started) + delay <= retryBudget)
            {
                Log.RetryingBeforeFirstToken(logger, stream.RequestId, failure.Error.Code, failure.Status, attempt, delay.TotalMilliseconds);
                await Task.Delay(delay, time, cancellationToken);
                continue;
            }

            Log.StreamFailed(logger, stream.RequestId, progress.Chunks, failure.Error.Code, failure.Status, failure.Error.Retryable, UpstreamErrorClassifier.ForLogging(failureCause));
            progress.Error = failure.Error;
            frames.WriteError(failure.Error);
            return StreamFinishReason.Error;
        }
    }

    /// <summary>
    /// The loop: wait for readers that fell far behind, ask the model for the next update, publish what is written
    /// before waiting on it (so a burst goes out in one write), write each text delta as a chunk frame.
    /// </summary>
    private async Task<StreamFinishReason> RelayOnceAsync(
        StreamLog log, List<ChatMessage> messages, ChatOptions chatOptions, SseFrameWriter frames, StreamProgress progress,
        long started, CancellationTokenSource idle, CancellationToken cancellationToken)
    {
        var idleTimeout = TimeSpan.FromSeconds(_options.UpstreamIdleTimeoutSeconds);
        var thinkingTimeout = TimeSpan.FromSeconds(_options.ThinkingTimeoutSeconds);
        ChatFinishReason? finish = null;
        idle.CancelAfter(idleTimeout);
        // The model client says when the model accepted the request (it is called back between two of our reads, so
        // writing here is this loop's own write); an async method's ambient value stays within it.
        ModelCallProgress.Current = new ModelCallProgress(() => ModelAccepted(log, frames, progress, started, idle));
        var updates = provider.Client.GetStreamingResponseAsync(messages, chatOptions, idle.Token).GetAsyncEnumerator(idle.Token);
        await using (updates)
        {
            while (true)
            {
                var next = updates.MoveNextAsync();
                if (!next.IsCompleted)
                {
                    log.Publish();
                }

                if (!await next)
                {
                    break;
                }

                var update = updates.Current;
                var contents = update.Contents;
                for (var i = 0; i < contents.Count; i++)
                {
                    switch (contents[i])
                    {
                        case TextContent { Text: { Length: > 0 } text }:
                            if (progress.Chunks++ == 0)
                            {
                                progress.FirstTokenTimestamp = time.GetTimestamp();
                            }

                            frames.WriteChunk(text);
                            break;
                        case TextReasoningContent { Text: { Length: > 0 } reasoning }:
                            progress.ReasoningFrames++;
                            frames.WriteReasoning(reasoning);
                            break;
                        case UsageContent usage:
                            progress.Usage = usage.Details;
                            break;
                    }
                }

                if (update.FinishReason is { } reason)
                {
                    finish = reason;
                }

                if (log.Written > MaxReplyBytes)
                {
                    throw new ChatUpstreamException(new StreamError(StreamError.Codes.Incomplete,
                        "The reply was cut off: it grew past the size limit.", Retryable: false));
                }

                // Backpressure: a reader far behind (a slow client) stops the model reads until it catches up or is
                // dropped by its stall timeout. The model is not silent meanwhile, so its idle timer pauses too.
                if (log.AnyReaderBehind(ReaderHighWaterBytes))
                {
                    idle.CancelAfter(Timeout.InfiniteTimeSpan);
                    log.Publish();
                    await log.WaitForReadersAsync(ReaderHighWaterBytes, cancellationToken);
                }

                // Until the first text the model is thinking, however many updates without text (stream events,
                // reasoning summaries) it sends meanwhile: the thinking timeout holds until then, the idle one after.
                idle.CancelAfter(progress.Chunks == 0 && progress.AcceptedTimestamp is not null ? thinkingTimeout : idleTimeout);
            }
        }

        log.Publish();
        return finish switch
        {
            { } f when f == ChatFinishReason.Length => StreamFinishReason.Length,
            { } f when f == ChatFinishReason.ContentFilter => StreamFinishReason.ContentFilter,
            not null => StreamFinishReason.Stop,
            // The body ended without a finish reason: cut off (a dropped connection, a proxy's page, an error object
            // in the stream). Never report that as complete; sending again may work.
            null => throw new ChatUpstreamException(new StreamError(StreamError.Codes.Incomplete,
                "The model's reply was cut off before it finished.", Retryable: true)),
        };
    }

    /// <summary>
    /// The model accepted the request and has sent no text: a reasoning model is thinking now. Says so once per reply,
    /// so the client can tell the think from a slow network; a retry's acceptance moves the mark, not the frame.
    /// </summary>
    private void ModelAccepted(StreamLog log, SseFrameWriter frames, StreamProgress progress, long started, CancellationTokenSource idle)
    {
        if (progress.Chunks > 0)
        {
            return;
        }

        // Silence until the first update is the think, bounded by its own timeout; the next update re-arms the idle one.
        idle.CancelAfter(TimeSpan.FromSeconds(_options.ThinkingTimeoutSeconds));
        progress.AcceptedTimestamp = time.GetTimestamp();
        if (!progress.ThinkingWritten)
        {
            progress.ThinkingWritten = true;
            frames.WriteThinking(time.GetElapsedTime(started, progress.AcceptedTimestamp.Value));
            log.Publish();
        }
    }

    private List<ChatMessage> BuildMessages(ChatRequest request)
    {
        var messages = new List<ChatMessage>(request.History.Count + 2)
        {
            new(ChatRole.System, _options.SystemPrompt),
        };
        foreach (var turn in request.History)
        {
            messages.Add(new ChatMessage(turn.Role == ChatTurnRole.User ? ChatRole.User : ChatRole.Assistant, turn.Content));
        }

        messages.Add(new ChatMessage(ChatRole.User, request.Message));
        return messages;
    }

    private static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt - 1));

    private StreamSummary Summarize(StreamFinishReason finishReason, StreamProgress progress, long started)
    {
        var now = time.GetTimestamp();
        var duration = time.GetElapsedTime(started, now);
        TimeSpan? ttft = progress.FirstTokenTimestamp is { } first ? time.GetElapsedTime(started, first) : null;
        var streaming = progress.FirstTokenTimestamp is { } f ? time.GetElapsedTime(f, now) : TimeSpan.Zero;
        // With one chunk there is no interval to measure a rate over.
        var tokensPerSecond = progress.Chunks > 1 && streaming > TimeSpan.Zero ? (progress.Chunks - 1) / streaming.TotalSeconds : 0;
        TimeSpan? ttfb = progress.AcceptedTimestamp is { } accepted ? time.GetElapsedTime(started, accepted) : null;
        TimeSpan? thinking = progress.AcceptedTimestamp is { } a && progress.FirstTokenTimestamp is { } t ? time.GetElapsedTime(a, t) : null;
        return new StreamSummary(finishReason, progress.Usage, ttft, tokensPerSecond, duration, progress.Chunks)
        {
            TimeToFirstByte = ttfb,
            Thinking = thinking,
        };
    }

    private sealed class StreamProgress
    {
        public int Chunks;
        public int ReasoningFrames;
        public long? FirstTokenTimestamp;
        public long? AcceptedTimestamp;
        public bool ThinkingWritten;
        public UsageDetails? Usage;
        public StreamError? Error;
    }
}
