using System.IO.Pipelines;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ChatFunctions.Streaming;

/// <summary>
/// Writes the chat stream's SSE frames (docs/streaming-protocol.md) straight into the response pipe and
/// flushes each one, with an SSE comment heartbeat when nothing was written for a while.
/// </summary>
/// <remarks>
/// Why not System.Net.ServerSentEvents.SseFormatter: it cannot write comments (the heartbeat), it formats each
/// item into its own buffer and copies it to the stream, and it never flushes. Here the JSON for a token is
/// escaped once, directly into the pipe's memory, and the writer is reused, so a token costs no allocation of ours.
/// Frames and heartbeats come from different threads; a semaphore keeps them from interleaving.
/// </remarks>
public sealed class SseChatWriter : IAsyncDisposable
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
    private static ReadOnlySpan<byte> FrameEnd => "\n\n"u8;
    private static ReadOnlySpan<byte> Heartbeat => ": keep-alive\n\n"u8;

    private readonly PipeWriter _output;
    private readonly Utf8JsonWriter _json;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;
    private readonly TimeSpan _heartbeatInterval;
    private readonly ITimer? _heartbeatTimer;
    private long _lastWriteTimestamp;
    private long _nextId;
    private bool _unflushed;
    private bool _completed;

    public SseChatWriter(PipeWriter output, TimeProvider time, TimeSpan heartbeatInterval)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(time);
        _output = output;
        _time = time;
        _heartbeatInterval = heartbeatInterval;
        _json = new Utf8JsonWriter(output, JsonOptions);
        _lastWriteTimestamp = time.GetTimestamp();
        if (heartbeatInterval > TimeSpan.Zero)
        {
            _heartbeatTimer = time.CreateTimer(static state => ((SseChatWriter)state!).OnHeartbeatTimer(), this, heartbeatInterval, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Heartbeat comments flushed so far.</summary>
    public int HeartbeatsWritten { get; private set; }

    public ValueTask WriteMetaAsync(string requestId, string provider, string model, CancellationToken cancellationToken) =>
        WriteFrameAsync(static (json, state) =>
        {
            json.WriteStartObject("meta");
            json.WriteString("requestId", state.requestId);
            json.WriteString("provider", state.provider);
            json.WriteString("model", state.model);
            json.WriteEndObject();
        }, (requestId, provider, model), cancellationToken);

    /// <param name="flush">False leaves the frame in the pipe for a later <see cref="FlushAsync"/>: the relay passes
    /// false while more model output is already waiting, so a burst goes out in one write instead of one per token.</param>
    public ValueTask WriteChunkAsync(string text, CancellationToken cancellationToken, bool flush = true) =>
        WriteFrameAsync(static (json, text) => json.WriteString("chunk", text), text, cancellationToken, flush);

    /// <summary>Whether frames were written but not yet flushed.</summary>
    public bool HasUnflushedFrames => Volatile.Read(ref _unflushed);

    /// <summary>Sends frames written with flush: false.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_unflushed && !_completed)
            {
                await FlushCoreAsync(cancellationToken);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public ValueTask WriteErrorAsync(StreamError error, CancellationToken cancellationToken) =>
        WriteFrameAsync(static (json, error) =>
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
        }, error, cancellationToken);

    public ValueTask WriteDoneAsync(StreamSummary summary, CancellationToken cancellationToken) =>
        WriteFrameAsync(static (json, summary) =>
        {
            json.WriteBoolean("done", true);
            json.WriteString("finishReason", summary.FinishReason.ToWireName());
            if (summary.Usage is { } usage)
            {
                json.WriteStartObject("usage");
                WriteOptionalNumber(json, "inputTokens", usage.InputTokenCount);
                WriteOptionalNumber(json, "outputTokens", usage.OutputTokenCount);
                WriteOptionalNumber(json, "totalTokens", usage.TotalTokenCount);
                json.WriteEndObject();
            }

            json.WriteStartObject("metrics");
            if (summary.TimeToFirstToken is { } ttft)
            {
                json.WriteNumber("timeToFirstTokenMs", Math.Round(ttft.TotalMilliseconds, 1));
            }
            else
            {
                json.WriteNull("timeToFirstTokenMs");
            }

            json.WriteNumber("tokensPerSecond", Math.Round(summary.TokensPerSecond, 1));
            json.WriteNumber("durationMs", Math.Round(summary.Duration.TotalMilliseconds, 1));
            json.WriteEndObject();
        }, summary, cancellationToken);

    private static void WriteOptionalNumber(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
    }

    private async ValueTask WriteFrameAsync<TState>(Action<Utf8JsonWriter, TState> writeBody, TState state, CancellationToken cancellationToken, bool flush = true)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            var id = ++_nextId;
            Write(_output, IdPrefix);
            WriteNumber(_output, id);
            Write(_output, DataPrefix);

            _json.Reset(_output);
            _json.WriteStartObject();
            writeBody(_json, state);
            _json.WriteEndObject();
            _json.Flush();

            Write(_output, FrameEnd);
            if (flush)
            {
                await FlushCoreAsync(cancellationToken);
            }
            else
            {
                _unflushed = true;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask FlushCoreAsync(CancellationToken cancellationToken)
    {
        _unflushed = false;
        var result = await _output.FlushAsync(cancellationToken);
        Volatile.Write(ref _lastWriteTimestamp, _time.GetTimestamp());
        if (result.IsCanceled || result.IsCompleted)
        {
            // The reader (the client connection) has gone; the caller's cancellation token will say why.
            throw new ClientGoneException();
        }
    }

    private void OnHeartbeatTimer() => _ = SendHeartbeatIfIdleAsync();

    internal async Task SendHeartbeatIfIdleAsync()
    {
        TimeSpan? dueIn = null;
        if (!await _gate.WaitAsync(0))
        {
            // A frame is being written right now, which is as good as a heartbeat.
            dueIn = _heartbeatInterval;
        }
        else
        {
            try
            {
                if (_completed)
                {
                    return;
                }

                var idle = _time.GetElapsedTime(Volatile.Read(ref _lastWriteTimestamp));
                if (idle >= _heartbeatInterval)
                {
                    Write(_output, Heartbeat);
                    await FlushCoreAsync(CancellationToken.None);
                    HeartbeatsWritten++;
                    dueIn = _heartbeatInterval;
                }
                else
                {
                    dueIn = _heartbeatInterval - idle;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                // The connection is gone; the streaming loop notices through its own token.
                return;
            }
            finally
            {
                _gate.Release();
            }
        }

        try
        {
            _heartbeatTimer?.Change(dueIn.Value, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed while we were writing: the stream has ended.
        }
    }

    private static void Write(PipeWriter output, ReadOnlySpan<byte> bytes)
    {
        var span = output.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        output.Advance(bytes.Length);
    }

    private static void WriteNumber(PipeWriter output, long value)
    {
        var span = output.GetSpan(20);
        value.TryFormat(span, out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    public async ValueTask DisposeAsync()
    {
        if (_heartbeatTimer is not null)
        {
            await _heartbeatTimer.DisposeAsync();
        }

        await _gate.WaitAsync();
        try
        {
            _completed = true;
            await _json.DisposeAsync();
        }
        finally
        {
            _gate.Release();
        }
    }
}
