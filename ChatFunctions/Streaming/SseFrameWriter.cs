using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using ChatFunctions.Models;

namespace ChatFunctions.Streaming;

/// <summary>
/// Formats the chat stream's SSE frames (docs/streaming-protocol.md) straight into a buffer writer, in practice the
/// stream's <see cref="StreamLog"/>, numbering them <c>id: &lt;streamId&gt;:&lt;seq&gt;</c>.
/// </summary>
/// <remarks>
/// Why not System.Net.ServerSentEvents.SseFormatter: it formats each item into its own buffer and copies it to a
/// stream; here a token's JSON is escaped once, directly into the log, and the writer is reused, so a token costs
/// no allocation of ours. The log is what clients and storage read, so a frame exists in exactly one place.
/// </remarks>
public sealed class SseFrameWriter : IDisposable
{
    // JSON in a data line is never embedded in HTML, so HTML-sensitive characters and non-ASCII text need no
    // escaping; control characters, quotes and backslashes still are, so a frame is always one line.
    private static readonly JsonWriterOptions JsonOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static ReadOnlySpan<byte> IdPrefix => "id: "u8;
    private static ReadOnlySpan<byte> DataPrefix => "\ndata: "u8;
    /// <summary>How each of our frames ends: a blank line, which no frame has inside it (the JSON is one line).</summary>
    public static ReadOnlySpan<byte> FrameEnd => "\n\n"u8;

    /// <summary>What a heartbeat looks like on the wire: an SSE comment, which parsers ignore.</summary>
    public static ReadOnlySpan<byte> Heartbeat => ": keep-alive\n\n"u8;

    private readonly IBufferWriter<byte> _output;
    private readonly Utf8JsonWriter _json;
    private readonly byte[] _idPrefix;

    public SseFrameWriter(IBufferWriter<byte> output, string streamId, int framesWritten = 0)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(streamId);
        _output = output;
        _json = new Utf8JsonWriter(output, JsonOptions);
        _idPrefix = System.Text.Encoding.ASCII.GetBytes($"id: {streamId}:");
        FramesWritten = framesWritten;
    }

    /// <summary>Frames written so far: the last frame's sequence number.</summary>
    public int FramesWritten { get; private set; }

    public void WriteMeta(string requestId, string streamId, string provider, string model) =>
        WriteFrame(static (json, state) =>
        {
            json.WriteStartObject("meta");
            json.WriteString("requestId", state.requestId);
            json.WriteString("streamId", state.streamId);
            json.WriteString("provider", state.provider);
            json.WriteString("model", state.model);
            json.WriteEndObject();
        }, (requestId, streamId, provider, model));

    /// <summary>The model accepted the request and sent no text yet: it is thinking (a reasoning model's wait).</summary>
    public void WriteThinking(TimeSpan timeToFirstByte) =>
        WriteFrame(static (json, ttfb) =>
        {
            json.WriteStartObject("thinking");
            json.WriteNumber("timeToFirstByteMs", Math.Round(ttfb.TotalMilliseconds, 1));
            json.WriteEndObject();
        }, timeToFirstByte);

    /// <summary>Text of the model's reasoning summary (Responses API), shown apart from the reply.</summary>
    public void WriteReasoning(string text) => WriteFrame(static (json, text) => json.WriteString("reasoning", text), text);

    public void WriteChunk(string text) => WriteFrame(static (json, text) => json.WriteString("chunk", text), text);

    public void WriteError(StreamError error) =>
        WriteFrame(static (json, error) =>
        {
            json.WriteStartObject("error");
            json.WriteString("code", error.Code);
            json.WriteString("message", error.Message);
            json.WriteBoolean("retryable", error.Retryable);
            if (error.RetryAfter is { } retryAfter)
            {
                json.WriteNumber("retryAfterMs", (long)Math.Ceiling(retryAfter.TotalMilliseconds));
            }

            json.WriteEndObject();
        }, error);

    public void WriteDone(StreamSummary summary) =>
        WriteFrame(static (json, summary) =>
        {
            json.WriteBoolean("done", true);
            json.WriteString("finishReason", summary.FinishReason.ToWireName());
            if (summary.Usage is { } usage)
            {
                json.WriteStartObject("usage");
                WriteOptionalNumber(json, "inputTokens", usage.InputTokenCount);
                WriteOptionalNumber(json, "outputTokens", usage.OutputTokenCount);
                WriteOptionalNumber(json, "totalTokens", usage.TotalTokenCount);
                WriteOptionalNumber(json, "reasoningTokens", usage.ReasoningTokenCount);
                json.WriteEndObject();
            }

            json.WriteStartObject("metrics");
            WriteMilliseconds(json, "timeToFirstByteMs", summary.TimeToFirstByte);
            WriteMilliseconds(json, "thinkingMs", summary.Thinking);
            WriteMilliseconds(json, "timeToFirstTokenMs", summary.TimeToFirstToken);

            json.WriteNumber("tokensPerSecond", Math.Round(summary.TokensPerSecond, 1));
            json.WriteNumber("durationMs", Math.Round(summary.Duration.TotalMilliseconds, 1));
            json.WriteEndObject();
        }, summary);

    private static void WriteMilliseconds(Utf8JsonWriter json, string name, TimeSpan? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, Math.Round(v.TotalMilliseconds, 1));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteOptionalNumber(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
    }

    private void WriteFrame<TState>(Action<Utf8JsonWriter, TState> writeBody, TState state)
    {
        var sequence = ++FramesWritten;
        _output.Write(_idPrefix);
        var span = _output.GetSpan(11);
        sequence.TryFormat(span, out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
        _output.Advance(written);
        _output.Write(DataPrefix);

        _json.Reset(_output);
        _json.WriteStartObject();
        writeBody(_json, state);
        _json.WriteEndObject();
        _json.Flush();

        _output.Write(FrameEnd);
    }

    public void Dispose() => _json.Dispose();
}
