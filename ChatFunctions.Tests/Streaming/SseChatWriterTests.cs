using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Nodes;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.Streaming;

public class SseChatWriterTests
{
    private static async Task<string> WriteAsync(Func<SseChatWriter, ValueTask> write)
    {
        var pipe = new Pipe();
        var writer = new SseChatWriter(pipe.Writer, TimeProvider.System, Timeout.InfiniteTimeSpan);
        await write(writer);
        await writer.DisposeAsync();
        await pipe.Writer.CompleteAsync();
        var result = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);
        return Encoding.UTF8.GetString(result.Buffer);
    }

    [Fact]
    public async Task Chunk_IsOneIdLineAndOneDataLine()
    {
        var text = await WriteAsync(w => w.WriteChunkAsync("Hello", CancellationToken.None));

        Assert.Equal("id: 1\ndata: {\"chunk\":\"Hello\"}\n\n", text);
    }

    [Fact]
    public async Task MultiLineText_StaysOnOneDataLine_WithEscapedNewlines()
    {
        var text = await WriteAsync(w => w.WriteChunkAsync("line one\nline two\r\nthree\rfour", CancellationToken.None));

        Assert.Equal("id: 1\ndata: {\"chunk\":\"line one\\nline two\\r\\nthree\\rfour\"}\n\n", text);
        Assert.Equal(2, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task NonAsciiText_IsWrittenAsUtf8_AndRoundTrips()
    {
        var text = await WriteAsync(w => w.WriteChunkAsync("안녕하세요 café 👋", CancellationToken.None));

        // Text in the Basic Multilingual Plane goes out as UTF-8 (a third the size of \u escapes); the encoder
        // escapes astral characters such as emoji as surrogate pairs, which every JSON parser reads back.
        Assert.Contains("\"chunk\":\"안녕하세요 café \\uD83D\\uDC4B\"", text, StringComparison.Ordinal);
        var data = text.Split('\n')[1]["data: ".Length..];
        Assert.Equal("안녕하세요 café 👋", JsonNode.Parse(data)!["chunk"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("say \"hi\"", "say \\\"hi\\\"")]
    [InlineData("back\\slash", "back\\\\slash")]
    [InlineData("tab\there", "tab\\there")]
    [InlineData("nul\0", "nul\\u0000")]
    [InlineData("</script><img src=x onerror=alert(1)>", "</script><img src=x onerror=alert(1)>")]
    public async Task JsonEscaping_RoundTripsExactly(string input, string expectedEscaped)
    {
        var text = await WriteAsync(w => w.WriteChunkAsync(input, CancellationToken.None));

        Assert.Contains(expectedEscaped, text, StringComparison.Ordinal);
        var data = text.Split('\n')[1]["data: ".Length..];
        Assert.Equal(input, JsonNode.Parse(data)!["chunk"]!.GetValue<string>());
    }

    [Fact]
    public async Task Frames_HaveIncreasingIds_AndTheProtocolShapes()
    {
        var text = await WriteAsync(async w =>
        {
            await w.WriteMetaAsync("req-1", "demo", "demo", CancellationToken.None);
            await w.WriteChunkAsync("a", CancellationToken.None);
            await w.WriteErrorAsync(new StreamError("rate_limited", "slow down", true, TimeSpan.FromMilliseconds(1500.2)), CancellationToken.None);
            await w.WriteDoneAsync(new StreamSummary(StreamFinishReason.Error, new UsageDetails { InputTokenCount = 3, OutputTokenCount = 1, TotalTokenCount = 4 },
                TimeSpan.FromMilliseconds(12.34), 0, TimeSpan.FromMilliseconds(99.99), 1), CancellationToken.None);
        });

        Assert.Equal(
            "id: 1\ndata: {\"meta\":{\"requestId\":\"req-1\",\"provider\":\"demo\",\"model\":\"demo\"}}\n\n" +
            "id: 2\ndata: {\"chunk\":\"a\"}\n\n" +
            "id: 3\ndata: {\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\",\"retryable\":true,\"retryAfterMs\":1501}}\n\n" +
            "id: 4\ndata: {\"done\":true,\"finishReason\":\"error\",\"usage\":{\"inputTokens\":3,\"outputTokens\":1,\"totalTokens\":4},\"metrics\":{\"timeToFirstTokenMs\":12.3,\"tokensPerSecond\":0,\"durationMs\":100}}\n\n",
            text);
    }

    [Fact]
    public async Task Done_WithoutUsageOrFirstToken_OmitsUsage_AndReportsNullTimeToFirstToken()
    {
        var text = await WriteAsync(w => w.WriteDoneAsync(
            new StreamSummary(StreamFinishReason.Cancelled, null, null, 0, TimeSpan.FromMilliseconds(5), 0), CancellationToken.None));

        var data = JsonNode.Parse(text.Split('\n')[1]["data: ".Length..])!;
        Assert.Equal("cancelled", data["finishReason"]!.GetValue<string>());
        Assert.Null(data["usage"]);
        Assert.Null(data["metrics"]!["timeToFirstTokenMs"]);
    }

    [Fact]
    public async Task UnflushedChunks_WaitForFlush_ThenGoOutTogether()
    {
        var pipe = new Pipe();
        await using var writer = new SseChatWriter(pipe.Writer, TimeProvider.System, Timeout.InfiniteTimeSpan);

        await writer.WriteChunkAsync("a", CancellationToken.None, flush: false);
        await writer.WriteChunkAsync("b", CancellationToken.None, flush: false);
        Assert.True(writer.HasUnflushedFrames);
        Assert.False(pipe.Reader.TryRead(out _));

        await writer.FlushAsync(CancellationToken.None);
        Assert.False(writer.HasUnflushedFrames);
        Assert.True(pipe.Reader.TryRead(out var read));
        Assert.Equal("id: 1\ndata: {\"chunk\":\"a\"}\n\nid: 2\ndata: {\"chunk\":\"b\"}\n\n", Encoding.UTF8.GetString(read.Buffer));
    }

    [Fact]
    public async Task Heartbeat_IsWrittenAfterTheIntervalWithoutFrames()
    {
        var time = new FakeTimeProvider();
        var pipe = new Pipe();
        await using var writer = new SseChatWriter(pipe.Writer, time, TimeSpan.FromSeconds(15));

        time.Advance(TimeSpan.FromSeconds(14));
        Assert.Equal(0, writer.HeartbeatsWritten);

        time.Advance(TimeSpan.FromSeconds(1));
        await WaitForAsync(() => writer.HeartbeatsWritten == 1);
        var read = await pipe.Reader.ReadAsync();
        Assert.Equal(": keep-alive\n\n", Encoding.UTF8.GetString(read.Buffer));
        pipe.Reader.AdvanceTo(read.Buffer.End);

        time.Advance(TimeSpan.FromSeconds(15));
        await WaitForAsync(() => writer.HeartbeatsWritten == 2);
    }

    [Fact]
    public async Task Heartbeat_IsPostponedByFrames()
    {
        var time = new FakeTimeProvider();
        var pipe = new Pipe();
        await using var writer = new SseChatWriter(pipe.Writer, time, TimeSpan.FromSeconds(15));

        time.Advance(TimeSpan.FromSeconds(10));
        await writer.WriteChunkAsync("x", CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(5)); // the timer fires, but only 5 s have passed since the frame
        await Task.Delay(50);
        Assert.Equal(0, writer.HeartbeatsWritten);

        time.Advance(TimeSpan.FromSeconds(10)); // now 15 s since the frame
        await WaitForAsync(() => writer.HeartbeatsWritten == 1);
    }

    [Fact]
    public async Task Heartbeat_StopsWhenTheWriterIsDisposed()
    {
        var time = new FakeTimeProvider();
        var pipe = new Pipe();
        var writer = new SseChatWriter(pipe.Writer, time, TimeSpan.FromSeconds(15));
        await writer.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(60));
        await Task.Delay(50);

        Assert.Equal(0, writer.HeartbeatsWritten);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
