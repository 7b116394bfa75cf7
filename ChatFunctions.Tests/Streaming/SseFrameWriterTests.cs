using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Streaming;

public class SseFrameWriterTests
{
    private const string Id = "AAAAAAAAAAAAAAAAAAAAAA";

    private static string Write(Action<SseFrameWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new SseFrameWriter(buffer, Id))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void FramesAreCountedAndFoundByTheirBlankLine_WhateverTheTextHolds()
    {
        var bytes = Encoding.UTF8.GetBytes(Write(w =>
        {
            w.WriteChunk("two\n\nblank lines");
            w.WriteChunk("\r\n\r\n");
            w.WriteChunk("안녕 👋");
        }));
        var frames = Encoding.UTF8.GetString(bytes).Split("\n\n")[..^1].Select(f => f + "\n\n").ToArray();

        Assert.Equal(3, SseFrameReader.CountFrames(bytes));
        Assert.Equal(0, SseFrameReader.OffsetAfterFrames(bytes, 0));
        Assert.Equal(Encoding.UTF8.GetByteCount(frames[0]), SseFrameReader.OffsetAfterFrames(bytes, 1));
        Assert.Equal(bytes.Length, SseFrameReader.OffsetAfterFrames(bytes, 3));
        Assert.Equal(-1, SseFrameReader.OffsetAfterFrames(bytes, 4));
        Assert.StartsWith($"id: {Id}:3\n", Encoding.UTF8.GetString(bytes.AsSpan(SseFrameReader.OffsetAfterFrames(bytes, 2))), StringComparison.Ordinal);
    }

    [Fact]
    public void Chunk_IsOneIdLineAndOneDataLine()
    {
        var text = Write(w => w.WriteChunk("Hello"));

        Assert.Equal($"id: {Id}:1\ndata: {{\"chunk\":\"Hello\"}}\n\n", text);
    }

    [Fact]
    public void MultiLineText_StaysOnOneDataLine_WithEscapedNewlines()
    {
        var text = Write(w => w.WriteChunk("line one\nline two\r\nthree\rfour"));

        Assert.Equal($"id: {Id}:1\ndata: {{\"chunk\":\"line one\\nline two\\r\\nthree\\rfour\"}}\n\n", text);
        Assert.Equal(2, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void NonAsciiText_IsWrittenAsUtf8_AndRoundTrips()
    {
        var text = Write(w => w.WriteChunk("안녕하세요 café 👋"));

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
    public void JsonEscaping_RoundTripsExactly(string input, string expectedEscaped)
    {
        var text = Write(w => w.WriteChunk(input));

        Assert.Contains(expectedEscaped, text, StringComparison.Ordinal);
        var data = text.Split('\n')[1]["data: ".Length..];
        Assert.Equal(input, JsonNode.Parse(data)!["chunk"]!.GetValue<string>());
    }

    [Fact]
    public void Frames_HaveIncreasingIds_AndTheProtocolShapes()
    {
        var text = Write(w =>
        {
            w.WriteMeta("req-1", Id, "demo", "demo");
            w.WriteThinking(TimeSpan.FromMilliseconds(4.56));
            w.WriteChunk("a");
            w.WriteError(new StreamError("rate_limited", "slow down", true, TimeSpan.FromMilliseconds(1500.2)));
            w.WriteDone(new StreamSummary(StreamFinishReason.Error, new UsageDetails { InputTokenCount = 3, OutputTokenCount = 9, TotalTokenCount = 12, ReasoningTokenCount = 8 },
                TimeSpan.FromMilliseconds(12.34), 0, TimeSpan.FromMilliseconds(99.99), 1)
            {
                TimeToFirstByte = TimeSpan.FromMilliseconds(4.56),
                Thinking = TimeSpan.FromMilliseconds(7.78),
            });
        });

        Assert.Equal(
            $"id: {Id}:1\ndata: {{\"meta\":{{\"requestId\":\"req-1\",\"streamId\":\"{Id}\",\"provider\":\"demo\",\"model\":\"demo\"}}}}\n\n" +
            $"id: {Id}:2\ndata: {{\"thinking\":{{\"timeToFirstByteMs\":4.6}}}}\n\n" +
            $"id: {Id}:3\ndata: {{\"chunk\":\"a\"}}\n\n" +
            $"id: {Id}:4\ndata: {{\"error\":{{\"code\":\"rate_limited\",\"message\":\"slow down\",\"retryable\":true,\"retryAfterMs\":1501}}}}\n\n" +
            $"id: {Id}:5\ndata: {{\"done\":true,\"finishReason\":\"error\",\"usage\":{{\"inputTokens\":3,\"outputTokens\":9,\"totalTokens\":12,\"reasoningTokens\":8}},\"metrics\":{{\"timeToFirstByteMs\":4.6,\"thinkingMs\":7.8,\"timeToFirstTokenMs\":12.3,\"tokensPerSecond\":0,\"durationMs\":100}}}}\n\n",
            text);
    }

    [Fact]
    public void Done_WithoutUsageOrFirstToken_OmitsUsage_AndReportsNullTimeToFirstToken()
    {
        var text = Write(w => w.WriteDone(
            new StreamSummary(StreamFinishReason.Cancelled, null, null, 0, TimeSpan.FromMilliseconds(5), 0)));

        var data = JsonNode.Parse(text.Split('\n')[1]["data: ".Length..])!;
        Assert.Equal("cancelled", data["finishReason"]!.GetValue<string>());
        Assert.Null(data["usage"]);
        Assert.Null(data["metrics"]!["timeToFirstTokenMs"]);
        Assert.Null(data["metrics"]!["timeToFirstByteMs"]);
        Assert.Null(data["metrics"]!["thinkingMs"]);
    }

    [Fact]
    public void IsDoneFrame_TellsTheDoneFrameFromOthers()
    {
        Assert.True(SseFrameReader.IsDoneFrame("id: x:3\ndata: {\"done\":true,\"finishReason\":\"stop\"}\n\n"u8));
        Assert.False(SseFrameReader.IsDoneFrame("id: x:2\ndata: {\"chunk\":\"{\\\"done\\\":true}\"}\n\n"u8));
    }
}
