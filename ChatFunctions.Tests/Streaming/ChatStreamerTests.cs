using System.IO.Pipelines;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Models;
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
        var pipe = new Pipe();
        StreamSummary summary;
        await using (var writer = new SseChatWriter(pipe.Writer, TimeProvider.System, Timeout.InfiniteTimeSpan))
        {
            summary = await Streamer().StreamAsync("req", Request(), writer, cancellationToken);
        }

        await pipe.Writer.CompleteAsync();
        var frames = new List<JsonObject>();
        await foreach (var item in SseParser.Create(pipe.Reader.AsStream()).EnumerateAsync())
        {
            frames.Add(JsonNode.Parse(item.Data)!.AsObject());
        }

        return (summary, frames);
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
            .Returns(Updates([Text("ok")]));

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
        Stream(_ => Updates([], rateLimited), _ => Updates([Text("ok")]));

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

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
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
    public async Task ClientCancellation_StopsTheModelCall_AndIsACancellationNotAnError()
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
        Assert.DoesNotContain(frames, f => f.ContainsKey("done")); // nobody is there to read it
        _observation.Verify(o => o.Completed(It.Is<StreamSummary>(s => s.FinishReason == StreamFinishReason.Cancelled), null), Times.Once);
    }

    private sealed class EndlessModel(int cancelAfter, CancellationTokenSource client)
    {
        public int Yielded { get; private set; }

        public bool Stopped { get; private set; }

        public async IAsyncEnumerable<ChatResponseUpdate> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken, int pauseAfter = -1)
        {
            try
            {
                while (true)
                {
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

                    await Task.Delay(5, cancellationToken);
                    Yielded++;
                    yield return Text("t");
                }
            }
            finally
            {
                Stopped = true;
            }
        }
    }

    [Fact]
    public async Task FramesAlreadyWritten_AreFlushedBeforeWaitingOnTheModel()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns(BurstThenWait(release.Task));
        var pipe = new Pipe();
        await using var writer = new SseChatWriter(pipe.Writer, TimeProvider.System, Timeout.InfiniteTimeSpan);

        var streaming = Streamer().StreamAsync("req", Request(), writer, CancellationToken.None);
        // The burst of three is visible to the client while the model is still thinking.
        var seen = "";
        for (var i = 0; i < 200 && !seen.Contains("\"c\"", StringComparison.Ordinal); i++)
        {
            var read = await pipe.Reader.ReadAsync();
            seen += System.Text.Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(read.Buffer));
            pipe.Reader.AdvanceTo(read.Buffer.End);
        }

        Assert.Contains("{\"chunk\":\"a\"}", seen, StringComparison.Ordinal);
        Assert.Contains("{\"chunk\":\"c\"}", seen, StringComparison.Ordinal);
        Assert.False(streaming.IsCompleted);

        release.SetResult();
        var summary = await streaming;
        Assert.Equal(4, summary.Chunks);
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> BurstThenWait(Task release)
    {
        yield return Text("a");
        yield return Text("b");
        yield return Text("c");
        await release;
        yield return Text("d");
    }

    /// <summary>
    /// The client leaves while the relay's flush waits on back-pressure and the model's next read is pending: through
    /// the abort token, or through the connection closing before any token says so (the pipe refuses the flush).
    /// Either way the pending read must end and the model's stream be released, which aborts the upstream request.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClientLeavingWhileAFlushWaits_ReleasesTheModelStream_AsACancellation(bool viaAbortToken)
    {
        using var cts = new CancellationTokenSource();
        var model = new EndlessModel(cancelAfter: -1, cts);
        _client.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> _, ChatOptions? _, CancellationToken ct) => model.StreamAsync(ct, pauseAfter: 1));
        // A client that stops reading: after the meta frame, flushes wait on back-pressure.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 8, resumeWriterThreshold: 4, useSynchronizationContext: false));
        await using var writer = new SseChatWriter(pipe.Writer, TimeProvider.System, Timeout.InfiniteTimeSpan);

        var streaming = Streamer().StreamAsync("req", Request(), writer, cts.Token);
        var meta = await pipe.Reader.ReadAsync();
        pipe.Reader.AdvanceTo(meta.Buffer.End);
        for (var i = 0; i < 200 && model.Yielded < 1; i++)
        {
            await Task.Delay(10);
        }

        await Task.Delay(50); // the relay's flush of "t" now waits while the model's next read is pending
        if (viaAbortToken)
        {
            await cts.CancelAsync();
        }
        else
        {
            await pipe.Reader.CompleteAsync();
        }

        var summary = await streaming.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(StreamFinishReason.Cancelled, summary.FinishReason);
        Assert.True(model.Stopped, "the model's stream was disposed, which aborts the upstream request");
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

    private static async IAsyncEnumerable<ChatResponseUpdate> Stall([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return Text("first");
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
