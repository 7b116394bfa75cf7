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
    /// <summary>Streams one reply as frames: meta, chunks, at most one error, then exactly one done.</summary>
    Task<StreamSummary> StreamAsync(string requestId, ChatRequest request, SseChatWriter writer, CancellationToken cancellationToken);
}

/// <summary>
/// Relays the model's stream to the SSE writer. Retries 429/5xx only before the first token and within a
/// budget; after that a failure becomes an error frame, so nothing already sent is lost or repeated.
/// </summary>
public sealed class ChatStreamer(
    IChatModelProvider provider,
    IOptions<ChatServiceOptions> options,
    TimeProvider time,
    IChatStreamObserver observer,
    ILogger<ChatStreamer> logger) : IChatStreamer
{
    private readonly ChatServiceOptions _options = options.Value;

    public async Task<StreamSummary> StreamAsync(string requestId, ChatRequest request, SseChatWriter writer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(writer);
        var started = time.GetTimestamp();
        var progress = new StreamProgress();
        using var scope = observer.StreamStarted(provider.Name, provider.Model);
        Log.StreamStarted(logger, requestId, provider.Name, provider.Model, request.History.Count, request.Message.Length);

        StreamFinishReason finishReason;
        try
        {
            await writer.WriteMetaAsync(requestId, provider.Name, provider.Model, cancellationToken);
            finishReason = await RelayWithRetriesAsync(requestId, request, writer, progress, started, cancellationToken);
        }
        catch (OperationCanceledException ex) when (ClientLeft(ex, cancellationToken))
        {
            finishReason = StreamFinishReason.Cancelled;
        }

        var summary = Summarize(finishReason, progress, started);
        if (finishReason == StreamFinishReason.Cancelled)
        {
            Log.StreamCancelled(logger, requestId, progress.Chunks);
        }
        else
        {
            Log.StreamFinished(logger, requestId, finishReason.ToWireName(), progress.Chunks, summary.TimeToFirstToken?.TotalMilliseconds, summary.Duration.TotalMilliseconds);
        }

        scope.Completed(summary, progress.Error);

        // The done frame goes out whatever happened, unless the client is gone and cannot read it.
        if (finishReason != StreamFinishReason.Cancelled)
        {
            try
            {
                await writer.WriteDoneAsync(summary, cancellationToken);
            }
            catch (OperationCanceledException ex) when (ClientLeft(ex, cancellationToken))
            {
                // The client left while the last frame was being written.
            }
        }

        return summary;
    }

    private async Task<StreamFinishReason> RelayWithRetriesAsync(
        string requestId, ChatRequest request, SseChatWriter writer, StreamProgress progress, long started, CancellationToken cancellationToken)
    {
        var messages = BuildMessages(request);
        var chatOptions = new ChatOptions
        {
            MaxOutputTokens = _options.MaxOutputTokens,
            Temperature = _options.Temperature,
        };
        var idleTimeout = TimeSpan.FromSeconds(_options.UpstreamIdleTimeoutSeconds);
        var retryBudget = TimeSpan.FromSeconds(_options.RetryBudgetSeconds);

        for (var attempt = 1; ; attempt++)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                return await RelayOnceAsync(messages, chatOptions, writer, progress, idle, idleTimeout, cancellationToken);
            }
            catch (OperationCanceledException ex) when (ClientLeft(ex, cancellationToken))
            {
                throw;
            }
            catch (Exception ex)
            {
                // An OperationCanceledException that is not the client's: our idle timeout or the SDK's network timeout.
                var failure = ex is OperationCanceledException
                    ? new ChatUpstreamException(new StreamError(StreamError.Codes.UpstreamTimeout,
                        $"The model sent nothing for {_options.UpstreamIdleTimeoutSeconds} seconds.", Retryable: true), ex)
                    : UpstreamErrorClassifier.Classify(ex);
                if (ex is OperationCanceledException)
                {
                    Log.UpstreamIdleTimeout(logger, requestId, _options.UpstreamIdleTimeoutSeconds);
                }

                var delay = failure.Error.RetryAfter ?? Backoff(attempt);
                if (progress.Chunks == 0 && failure.Error.Retryable && attempt < _options.RetryMaxAttempts
                    && time.GetElapsedTime(started) + delay <= retryBudget)
                {
                    Log.RetryingBeforeFirstToken(logger, requestId, failure.Error.Code, failure.Status, attempt, delay.TotalMilliseconds);
                    await Task.Delay(delay, time, cancellationToken);
                    continue;
                }

                Log.StreamFailed(logger, requestId, progress.Chunks, failure.Error.Code, failure.Status, failure.Error.Retryable, UpstreamErrorClassifier.ForLogging(ex));
                progress.Error = failure.Error;
                await writer.WriteErrorAsync(failure.Error, cancellationToken);
                return StreamFinishReason.Error;
            }
        }
    }

    private async Task<StreamFinishReason> RelayOnceAsync(
        List<ChatMessage> messages, ChatOptions chatOptions, SseChatWriter writer, StreamProgress progress,
        CancellationTokenSource idle, TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        ChatFinishReason? finish = null;
        idle.CancelAfter(idleTimeout);
        var updates = provider.Client.GetStreamingResponseAsync(messages, chatOptions, idle.Token).GetAsyncEnumerator(idle.Token);
        await using (updates)
        {
            while (true)
            {
                var next = updates.MoveNextAsync();
                if (!next.IsCompleted && writer.HasUnflushedFrames)
                {
                    // Nothing more is ready: send what was written before waiting on the model. While output is
                    // already waiting (a burst, or a relay that fell behind) frames go out together, one write each burst.
                    try
                    {
                        await writer.FlushAsync(cancellationToken);
                    }
                    catch
                    {
                        // The client is gone. The model read still pending must end before the enumerator is
                        // disposed, or the upstream response is never released (and never aborted).
                        await idle.CancelAsync();
                        await next.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        throw;
                    }
                }

                if (!await next)
                {
                    break;
                }

                idle.CancelAfter(idleTimeout);
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

                            // The client's token, not the idle one: a slow client is not a silent model.
                            await writer.WriteChunkAsync(text, cancellationToken, flush: false);
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
            }
        }

        await writer.FlushAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        return finish == ChatFinishReason.Length ? StreamFinishReason.Length
            : finish == ChatFinishReason.ContentFilter ? StreamFinishReason.ContentFilter
            : StreamFinishReason.Stop;
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

    /// <summary>The request was aborted, or the response pipe refused more frames: either way nobody is reading.</summary>
    private static bool ClientLeft(OperationCanceledException exception, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested || exception is ClientGoneException;

    private static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt - 1));

    private StreamSummary Summarize(StreamFinishReason finishReason, StreamProgress progress, long started)
    {
        var now = time.GetTimestamp();
        var duration = time.GetElapsedTime(started, now);
        TimeSpan? ttft = progress.FirstTokenTimestamp is { } first ? time.GetElapsedTime(started, first) : null;
        var streaming = progress.FirstTokenTimestamp is { } f ? time.GetElapsedTime(f, now) : TimeSpan.Zero;
        // With one chunk there is no interval to measure a rate over.
        var tokensPerSecond = progress.Chunks > 1 && streaming > TimeSpan.Zero ? (progress.Chunks - 1) / streaming.TotalSeconds : 0;
        return new StreamSummary(finishReason, progress.Usage, ttft, tokensPerSecond, duration, progress.Chunks);
    }

    private sealed class StreamProgress
    {
        public int Chunks;
        public long? FirstTokenTimestamp;
        public UsageDetails? Usage;
        public StreamError? Error;
    }
}
