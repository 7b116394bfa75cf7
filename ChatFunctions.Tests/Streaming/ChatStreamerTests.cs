using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Models;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;

namespace ChatFunctions.Tests.Streaming;

public class ChatStreamerTests
{
    private readonly Mock<IChatClient> _client = new();
    private readonly Mock<IChatStreamObserver> _observer = new();
    private readonly Mock<IStreamObservation> _observation = new();
    private readonly ChatServiceOptions _options = new() { SystemPrompt = "Be brief.", MaxOutputTokens = 99, Temperature = 0.25f, RetryBudgetSeconds = 5 };

    public ChatStreamerTests()
    {
        _observer.Setup(o => o.StreamStarted(It.IsAny<string>(), It.IsAny<string>())).Returns(_observation.Object);
    }

    private ChatStreamer Streamer() => new(
        new ChatModelProvider("azure-openai", "chat-test", _client.Object),
        Options.Create(_options),
        TimeProvider.System,
        _observer.Object,
        NullLogger<ChatStreamer>.Instance);

    private static ChatRequest Request(string message = "hi") =>
        new(message, [new ChatTurn(ChatTurnRole.User, "earlier"), new ChatTurn(ChatTurnRole.Assistant, "reply")]);

    private async Task<(StreamSummary Summary, List<JsonObject> Frames)> RunAsync(CancellationToken cancellationToken = default)
    {
        using var reply = new LiveReply(StreamId.New(), "req", ownerKey: null);
        var summary = await Streamer().ProduceAsync(reply, Request(), NothingBeforeDone, cancellationToken);
        return (summary, await ParseAsync(reply.Log.Copy(0, reply.Log.Published).ToArray()));
    }

    private static async Task<List<JsonObject>> ParseAsync(byte[] bytes)
    {
        var frames = new List<JsonObject>();
        await foreach (var item in SseParser.Create(new MemoryStream(bytes)).EnumerateAsync())
        {
            frames.Add(JsonNode.Parse(item.Data)!.AsObject());
        }

        return frames;
    }

    private void Stream(params Func<int, IAsyncEnumerable<ChatResponseUpdate>>[] attempts)
    {
        var calls = 0;
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => attempts[Math.Min(calls++, attempts.Length - 1)](calls));
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Updates(IEnumerable<ChatResponseUpdate> updates, Exception? thenThrow = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var update in updates)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return update;
        }

        if (thenThrow is not null)
        {
            throw thenThrow;
        }
    }

    private static ChatResponseUpdate Text(string text) => new(ChatRole.Assistant, text);

    private static ChatResponseUpdate Finish(string reason = "stop") => new() { FinishReason = new ChatFinishReason(reason) };

    [Fact]
    public async Task Relays_EveryTextDelta_ThenDoneWithUsageAndMetrics()
    {
        Stream(_ => Updates([
            new ChatResponseUpdate(), // Azure's first chunk: no choices, only prompt filter results
            Text("Hel"), Text(""), Text("lo"),
            new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop },
            new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 7, OutputTokenCount = 2, TotalTokenCount = 9 })] },
        ]));

        var (summary, frames) = await RunAsync();

        Assert.Equal(["meta", "chunk", "chunk", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("Hel", frames[1]["chunk"]!.GetValue<string>());
        Assert.Equal("lo", frames[2]["chunk"]!.GetValue<string>());
        Assert.Equal("stop", frames[3]["finishReason"]!.GetValue<string>());
        Assert.Equal(9, frames[3]["usage"]!["totalTokens"]!.GetValue<int>());
        Assert.NotNull(frames[3]["metrics"]!["timeToFirstTokenMs"]);
        Assert.Equal(2, summary.Chunks);
        _observation.Verify(o => o.Completed(It.Is<StreamSummary>(s => s.FinishReason == StreamFinishReason.Stop), null), Times.Once);
    }

    [Fact]
    public async Task SendsTheServersSystemPromptFirst_ThenHistory_ThenTheMessage_WithConfiguredLimits()
    {
        List<ChatMessage>? sent = null;
        ChatOptions? sentOptions = null;
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Callback((IEnumerable<ChatMessage> m, ChatOptions? o, CancellationToken _) => { sent = m.ToList(); sentOptions = o; })
            .Returns(Updates([Text("ok"), Finish()]));

        await RunAsync();

        Assert.NotNull(sent);
        Assert.Equal([ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.User], sent.Select(m => m.Role));
        Assert.Equal(["Be brief.", "earlier", "reply", "hi"], sent!.Select(m => m.Text));
        Assert.Equal(99, sentOptions!.MaxOutputTokens);
        Assert.Equal(0.25f, sentOptions.Temperature);
    }

    [Theory]
    [InlineData("length", "length")]
    [InlineData("content_filter", "content_filter")]
    public async Task FinishReasons_AreReportedInDone(string reason, string wire)
    {
        Stream(_ => Updates([Text("partial"), new ChatResponseUpdate { FinishReason = new ChatFinishReason(reason) }]));

        var (_, frames) = await RunAsync();

        Assert.Equal(wire, frames[^1]["finishReason"]!.GetValue<string>());
        Assert.DoesNotContain(frames, f => f.ContainsKey("error"));
    }

    [Fact]
    public async Task FailureAfterTheFirstToken_KeepsWhatWasSent_EndsWithErrorAndDone_AndIsNotRetried()
    {
        var attempts = 0;
        Stream(_ => { attempts++; return Updates([Text("a"), Text("b")], new IOException("connection reset")); });

        var (summary, frames) = await RunAsync();

        Assert.Equal(1, attempts);
        Assert.Equal(["meta", "chunk", "chunk", "error", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("upstream_unavailable", frames[3]["error"]!["code"]!.GetValue<string>());
        Assert.True(frames[3]["error"]!["retryable"]!.GetValue<bool>());
        Assert.Equal("error", frames[4]["finishReason"]!.GetValue<string>());
        Assert.Equal(StreamFinishReason.Error, summary.FinishReason);
    }

    [Fact]
    public async Task RetryableFailureBeforeTheFirstToken_IsRetried_WithinTheBudget()
    {
        var rateLimited = new ChatUpstreamException(new StreamError("rate_limited", "slow down", true, TimeSpan.FromMilliseconds(50)));
        Stream(_ => Updates([], rateLimited), _ => Updates([Text("ok"), Finish()]));

        var (_, frames) = await RunAsync();

        Assert.Equal(["meta", "chunk", "done"], frames.Select(f => f.First().Key));
        _client.Verify(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()), Times.Exactly(2));
    }

    [Fact]
    public async Task RetryAfterLongerThanTheBudget_IsPassedToTheClient_NotWaited()
    {
        var rateLimited = new ChatUpstreamException(new StreamError("rate_limited", "slow down", true, TimeSpan.FromDays(1)));
        Stream(_ => Updates([], rateLimited));

        var started = DateTime.UtcNow;
        var (_, frames) = await RunAsync();

        // Waiting for the retry would spend the whole budget before giving up: the reply ends well within it.
        var took = DateTime.UtcNow - started;
        Assert.True(took < TimeSpan.FromSeconds(_options.RetryBudgetSeconds), $"the reply took {took.TotalSeconds:F1} s: it waited (retry budget {_options.RetryBudgetSeconds} s)");
        Assert.Equal(86_400_000, frames[1]["error"]!["retryAfterMs"]!.GetValue<long>());
        Assert.Equal("error", frames[2]["finishReason"]!.GetValue<string>());
        _client.Verify(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task NonRetryableFailure_IsNotRetried()
    {
        Stream(_ => Updates([], new ChatUpstreamException(new StreamError("upstream_error", "denied", false))));

        var (_, frames) = await RunAsync();

        Assert.Equal(["meta", "error", "done"], frames.Select(f => f.First().Key));
        _client.Verify(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task Stop_StopsTheModelCall_AndEndsTheLogWithDoneCancelled_NotAnError()
    {
        using var cts = new CancellationTokenSource();
        var model = new EndlessModel(cancelAfter: 3, cts);
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => model.StreamAsync(ct));

        var (summary, frames) = await RunAsync(cts.Token);

        Assert.True(model.Stopped, "the model's stream was disposed, which aborts the upstream request");
        Assert.InRange(model.Yielded, 3, 4);
        Assert.Equal(StreamFinishReason.Cancelled, summary.FinishReason);
        Assert.DoesNotContain(frames, f => f.ContainsKey("error"));
        // A reader that resumes later learns how the reply ended.
        Assert.Equal("cancelled", frames[^1]["finishReason"]!.GetValue<string>());
        _observation.Verify(o => o.Completed(It.Is<StreamSummary>(s => s.FinishReason == StreamFinishReason.Cancelled), null), Times.Once);
    }

    public static TheoryData<string> WhatAnAbortedReadSurfacesAs => ["io", "http", "disposed", "incomplete", "upstream_error"];

    /// <summary>
    /// A stop aborts the model's request mid-read, and what comes out of the read then depends on where it was: an
    /// I/O error, an HTTP error, a disposed stream, a body cut short (incomplete), the classifier's upstream error.
    /// Each one is the stop, never a model failure: done says cancelled, no error frame, no retry.
    /// </summary>
    [Theory]
    [MemberData(nameof(WhatAnAbortedReadSurfacesAs))]
    public async Task Stop_WhateverTheAbortedReadThrows_EndsCancelled_NotWithAnError(string surfacesAs)
    {
        using var cts = new CancellationTokenSource();
        var attempts = 0;
        Stream(_ => { attempts++; return ThrowsWhenStopped(cts, surfacesAs); });

        var (summary, frames) = await RunAsync(cts.Token);

        Assert.Equal(1, attempts);
        Assert.Equal(StreamFinishReason.Cancelled, summary.FinishReason);
        Assert.DoesNotContain(frames, f => f.ContainsKey("error"));
        Assert.Equal(["meta", "chunk", "chunk", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("cancelled", frames[^1]["finishReason"]!.GetValue<string>());
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> ThrowsWhenStopped(CancellationTokenSource stop, string surfacesAs)
    {
        yield return Text("a");
        await Task.Yield();
        yield return Text("b");
        await stop.CancelAsync();
        await Task.Yield();
        throw surfacesAs switch
        {
            "io" => new IOException("Unable to read data from the transport connection: Operation canceled."),
            "http" => new HttpRequestException("The response ended prematurely."),
            "disposed" => new ObjectDisposedException("SslStream"),
            "incomplete" => new ChatUpstreamException(new StreamError(StreamError.Codes.Incomplete, "cut off", Retryable: true)),
            _ => new ChatUpstreamException(new StreamError("upstream_error", "read failed", Retryable: true)),
        };
    }

    [Fact]
    public async Task Shutdown_EndsTheReplyAsIncomplete_AndRetryable()
    {
        using var reply = new LiveReply(StreamId.New(), "req", ownerKey: null);
        var model = new EndlessModel(cancelAfter: -1, new CancellationTokenSource());
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => model.StreamAsync(ct));

        var producing = Streamer().ProduceAsync(reply, Request(), NothingBeforeDone, reply.Stopping);
        await WaitUntilAsync(() => model.Yielded >= 2);
        reply.Stop(StreamStopReason.Shutdown);
        var summary = await producing.WaitAsync(TimeSpan.FromSeconds(10));

        var frames = await ParseAsync(reply.Log.Copy(0, reply.Log.Published).ToArray());
        Assert.Equal(StreamFinishReason.Error, summary.FinishReason);
        Assert.Equal("incomplete", frames[^2]["error"]!["code"]!.GetValue<string>());
        Assert.True(frames[^2]["error"]!["retryable"]!.GetValue<bool>());
        Assert.Equal("error", frames[^1]["finishReason"]!.GetValue<string>());
        Assert.True(model.Stopped);
    }

    /// <summary>Polls a condition the relay makes true on the thread pool; the bound only ends a test that would hang.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < TestInfrastructure.SteppedTime.StepBound)
        {
            await Task.Delay(TestInfrastructure.Poll.StepInterval);
        }

        Assert.True(condition());
    }

    private sealed class EndlessModel(int cancelAfter, CancellationTokenSource client, string text = "t", bool delay = true)
    {
        public int Yielded { get; private set; }

        public bool Stopped { get; private set; }

        /// <summary>Called each time the relay asks for the next update, before it is produced.</summary>
        public Action? OnAsk { get; set; }

        public async IAsyncEnumerable<ChatResponseUpdate> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken, int pauseAfter = -1)
        {
            try
            {
                while (true)
                {
                    OnAsk?.Invoke();
                    if (Yielded == pauseAfter)
                    {
                        // The model is thinking: a read is pending when the client leaves.
                        await Task.Delay(Timeout.Infinite, cancellationToken);
                    }

                    if (Yielded == cancelAfter)
                    {
                        // As Kestrel does when the connection drops: synchronously, between two model updates.
                        client.Cancel();
                    }

                    if (delay)
                    {
                        await Task.Delay(5, cancellationToken);
                    }
                    else
                    {
                        await Task.Yield();
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    Yielded++;
                    yield return Text(text);
                }
            }
            finally
            {
                Stopped = true;
            }
        }
    }

    [Fact]
    public async Task FramesAlreadyWritten_ArePublishedBeforeWaitingOnTheModel()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns(BurstThenWait(release.Task));
        using var reply = new LiveReply(StreamId.New(), "req", ownerKey: null);

        var producing = Streamer().ProduceAsync(reply, Request(), NothingBeforeDone, CancellationToken.None);
        // The burst of three is readable while the model is still thinking.
        await WaitUntilAsync(() => System.Text.Encoding.UTF8.GetString(reply.Log.Copy(0, reply.Log.Published).ToArray()).Contains("{\"chunk\":\"c\"}", StringComparison.Ordinal));
        Assert.False(producing.IsCompleted);

        release.SetResult();
        var summary = await producing;
        Assert.True(reply.Log.IsCompleted); // the streamer ends the log with its done frame
        Assert.Equal(4, summary.Chunks);
    }

    [Fact]
    public async Task TheDoneFrameIsPublished_OnlyOnceBeforeDoneHasReturned_WithTheSummaryItWasGiven()
    {
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns(BurstThenWait(Task.CompletedTask));
        using var reply = new LiveReply(StreamId.New(), "req", ownerKey: null);
        var entered = new TaskCompletionSource<StreamSummary>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var producing = Streamer().ProduceAsync(reply, Request(), async summary => { entered.SetResult(summary); await release.Task; }, CancellationToken.None);
        var told = await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var before = await ParseAsync(reply.Log.Copy(0, reply.Log.Published).ToArray());
        Assert.False(reply.Log.IsCompleted);
        Assert.DoesNotContain(before, frame => frame.ContainsKey("finishReason"));

        release.SetResult();
        var summary = await producing.WaitAsync(TimeSpan.FromSeconds(10));
        var frames = await ParseAsync(reply.Log.Copy(0, reply.Log.Published).ToArray());
        Assert.Equal(told, summary);
        Assert.True(reply.Log.IsCompleted);
        Assert.Equal("stop", frames[^1]["finishReason"]!.GetValue<string>());
    }

    private static readonly Func<StreamSummary, Task> NothingBeforeDone = _ => Task.CompletedTask;

    private static async IAsyncEnumerable<ChatResponseUpdate> BurstThenWait(Task release)
    {
        yield return Text("a");
        yield return Text("b");
        yield return Text("c");
        await release;
        yield return Text("d");
        yield return Finish();
    }

    /// <summary>
    /// Backpressure: while an attached reader is far behind, the model is not read, so a client that stops reading
    /// cannot make the server read the whole upstream reply into memory. When the reader leaves, reading resumes.
    /// </summary>
    [Fact]
    public async Task ReaderFarBehind_StopsTheModelReads_UntilItCatchesUpOrLeaves()
    {
        var model = new EndlessModel(cancelAfter: -1, new CancellationTokenSource(), text: new string('x', 1000));
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => model.StreamAsync(ct));
        using var reply = new LiveReply(StreamId.New(), "req", ownerKey: null);
        var reader = reply.Log.Attach(0); // attached, reads nothing
        // Each time the relay asks the model for more, the attached reader is at most the high-water mark behind, plus
        // the one update (1,000 bytes and its frame) written after the last look: so while it reads nothing, the relay
        // asks for nothing once the log is that far ahead. Checked at every ask, not by watching the clock.
        long mostBehind = 0;
        model.OnAsk = () => mostBehind = Math.Max(mostBehind, reply.Log.Written - reader.Position);

        var producing = Streamer().ProduceAsync(reply, Request(), NothingBeforeDone, reply.Stopping);
        await WaitUntilAsync(() => reply.Log.Written >= ChatStreamer.ReaderHighWaterBytes);
        var held = model.Yielded;

        reader.Advance(reply.Log.Published); // it caught up: reading goes on
        await WaitUntilAsync(() => model.Yielded > held + 5);
        for (var i = 0; i < 3; i++) // falls behind and catches up again, each time asked for more only once it has
        {
            var yielded = model.Yielded;
            await WaitUntilAsync(() => reply.Log.Written - reader.Position >= ChatStreamer.ReaderHighWaterBytes);
            reader.Advance(reply.Log.Published);
            await WaitUntilAsync(() => model.Yielded > yielded + 5);
        }

        model.OnAsk = null;
        Assert.InRange(mostBehind, ChatStreamer.ReaderHighWaterBytes - 2048, ChatStreamer.ReaderHighWaterBytes + 2048);

        reader.Dispose(); // it left: nobody holds the model back
        var yieldedWhenLeft = model.Yielded;
        await WaitUntilAsync(() => model.Yielded > yieldedWhenLeft + 20);
        reply.Stop(StreamStopReason.Cancelled);
        await producing.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ReplyPastTheSizeLimit_IsCutOffWithAnErrorFrame()
    {
        _options.MaxOutputTokens = 1; // the limit is then its floor, 1 MiB
        var model = new EndlessModel(cancelAfter: -1, new CancellationTokenSource(), text: new string('y', 8000), delay: false);
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => model.StreamAsync(ct));

        var (summary, frames) = await RunAsync();

        Assert.Equal(StreamFinishReason.Error, summary.FinishReason);
        Assert.Equal("incomplete", frames[^2]["error"]!["code"]!.GetValue<string>());
        Assert.False(frames[^2]["error"]!["retryable"]!.GetValue<bool>());
        Assert.True(model.Stopped);
        Assert.InRange(frames.Count(f => f.ContainsKey("chunk")) * 8000L, 1024 * 1024 - 8000, 1024 * 1024 + 8000);
    }

    /// <summary>Every way a model stream can end without saying it finished is reported as cut off, never as "stop".</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public async Task StreamEndingWithoutAFinishReason_IsIncomplete_KeepingWhatWasSent(int tokens)
    {
        _options.RetryMaxAttempts = 1;
        Stream(_ => Updates(Enumerable.Range(0, tokens).Select(i => Text($"t{i}"))));

        var (summary, frames) = await RunAsync();

        Assert.Equal(tokens, frames.Count(f => f.ContainsKey("chunk")));
        Assert.Equal("incomplete", frames[^2]["error"]!["code"]!.GetValue<string>());
        Assert.True(frames[^2]["error"]!["retryable"]!.GetValue<bool>());
        Assert.Equal("error", frames[^1]["finishReason"]!.GetValue<string>());
        Assert.Equal(StreamFinishReason.Error, summary.FinishReason);
    }

    [Fact]
    public async Task EmptyStreamBeforeTheFirstToken_IsRetried_LikeAnyRetryableFailure()
    {
        Stream(_ => Updates([]), _ => Updates([Text("ok"), Finish()]));

        var (_, frames) = await RunAsync();

        Assert.Equal(["meta", "chunk", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("stop", frames[^1]["finishReason"]!.GetValue<string>());
    }

    [Fact]
    public async Task SilentModel_EndsWithARetryableTimeout()
    {
        _options.UpstreamIdleTimeoutSeconds = 1;
        _options.RetryMaxAttempts = 1;
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => Stall(ct));

        var (_, frames) = await RunAsync();

        Assert.Equal(["meta", "chunk", "error", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("upstream_timeout", frames[2]["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task AcceptedModel_GetsOneThinkingFrame_BeforeItsText_AndTheSummarySplitsTheWait()
    {
        // Accepted twice (a retry's acceptance after a failure before text): one thinking frame all the same.
        Stream(_ => Think(TimeSpan.Zero, [], new IOException("reset")), _ => Think(TimeSpan.FromMilliseconds(200), [Text("ok"), Finish()]));

        var (summary, frames) = await RunAsync();

        Assert.Equal(["meta", "thinking", "chunk", "done"], frames.Select(f => f.First().Key));
        Assert.True(summary.Thinking >= TimeSpan.FromMilliseconds(200) - TimerAllowance, $"thinking {summary.Thinking} covers the model's 200 ms think");
        Assert.Equal(summary.TimeToFirstToken!.Value.TotalMilliseconds, (summary.TimeToFirstByte + summary.Thinking)!.Value.TotalMilliseconds, 0.001);
        Assert.True(frames[^1]["metrics"]!["thinkingMs"]!.GetValue<double>() >= (TimeSpan.FromMilliseconds(200) - TimerAllowance).TotalMilliseconds);
    }

    [Fact]
    public async Task ModelThatNeverAccepts_GetsNoThinkingFrame()
    {
        Stream(_ => Updates([Text("ok"), Finish()]));

        var (summary, frames) = await RunAsync();

        Assert.Equal(["meta", "chunk", "done"], frames.Select(f => f.First().Key));
        Assert.Null(summary.TimeToFirstByte);
        Assert.Null(summary.Thinking);
    }

    [Fact]
    public async Task AcceptedModel_MayThinkPastTheIdleTimeout_WithinTheThinkingTimeout()
    {
        _options.UpstreamIdleTimeoutSeconds = 1;
        _options.ThinkingTimeoutSeconds = 30;
        _options.RetryMaxAttempts = 1;
        // Half a second past the idle timeout: the idle timer alone would have ended the reply.
        Stream(_ => Think(TimeSpan.FromSeconds(1.5), [Text("after thought"), Finish()]));

        var (_, frames) = await RunAsync();

        Assert.Equal(["meta", "thinking", "chunk", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("stop", frames[^1]["finishReason"]!.GetValue<string>());
    }

    [Fact]
    public async Task AcceptedModel_SilentPastTheThinkingTimeout_EndsWithARetryableTimeoutNamingIt()
    {
        _options.UpstreamIdleTimeoutSeconds = 30;
        _options.ThinkingTimeoutSeconds = 1;
        _options.RetryMaxAttempts = 1;
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => Think(Timeout.InfiniteTimeSpan, [], cancellationToken: ct));

        var (_, frames) = await RunAsync();

        Assert.Equal(["meta", "thinking", "error", "done"], frames.Select(f => f.First().Key));
        Assert.Equal("upstream_timeout", frames[2]["error"]!["code"]!.GetValue<string>());
        Assert.Contains("1 seconds", frames[2]["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>Timers fire on the clock's tick, never before the time asked for; this is the rounding of that.</summary>
    private static readonly TimeSpan TimerAllowance = TimeSpan.FromMilliseconds(20);

    /// <summary>A reasoning model: accepted (as the model clients report it), silent for <paramref name="think"/>, then the updates.</summary>
    private static async IAsyncEnumerable<ChatResponseUpdate> Think(TimeSpan think, IEnumerable<ChatResponseUpdate> updates, Exception? thenThrow = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        ModelCallProgress.Current?.Accepted();
        await Task.Delay(think, cancellationToken);
        await foreach (var update in Updates(updates, thenThrow, cancellationToken))
        {
            yield return update;
        }
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Stall([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return Text("first");
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
