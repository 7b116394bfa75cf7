using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace ChatFunctions.Bench;

public enum FrameKind
{
    Other,
    Meta,
    Chunk,
    Error,
    Done,
}

/// <summary>One SSE item, parsed straight from its bytes (the bench's own client must stay cheap).</summary>
public readonly record struct Frame(FrameKind Kind, int TokenIndex, long SentTimestamp, int TextLength);

/// <summary>What one client saw of one stream; timestamps are Stopwatch ticks.</summary>
public sealed class StreamResult(int expectedTokens)
{
    public long Start { get; set; }

    public long Headers { get; set; }

    public long FirstChunk { get; set; }

    public long End { get; set; }

    public int Status { get; set; }

    /// <summary>Arrival time of token i (0: never arrived).</summary>
    public long[] Received { get; } = new long[expectedTokens];

    /// <summary>Upstream send time of token i, from x_sent_timestamp (direct) or the fake's record (relay).</summary>
    public long[] Sent { get; set; } = new long[expectedTokens];

    public int Chunks { get; set; }

    public int ExpectedTokens { get; } = expectedTokens;

    public bool Reordered { get; set; }

    public bool IdGap { get; set; }

    public bool Done { get; set; }

    public string? Error { get; set; }

    /// <summary>Every chunk's arrival, in order (remote mode, where token indices are unknown).</summary>
    public List<long>? Arrivals { get; set; }

    public int Lost => ExpectedTokens - Received.Count(r => r != 0);
}

/// <summary>Reads the app's chat stream (relay) or the fake Azure OpenAI stream (direct) and records every token's arrival.</summary>
public static class StreamClient
{
    public static HttpClient CreateHttpClient(Uri baseAddress) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        // A response disposed mid-body closes its connection, as a browser's abort does: .NET's default drains it
        // for up to 2 s first, so a "dropped" client went on reading, and the server saw it leave 2 s late.
        ResponseDrainTimeout = TimeSpan.Zero,
        MaxResponseDrainSize = 0,
    })
    {
        BaseAddress = baseAddress,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public static Task<StreamResult> RelayAsync(HttpClient client, string message, int tokens, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new { message });
        var request = new HttpRequestMessage(HttpMethod.Post, "api/chat/stream") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        return ReadAsync(client, request, tokens, relay: true, cancellationToken);
    }

    public static Task<StreamResult> DirectAsync(HttpClient client, string message, int tokens, CancellationToken cancellationToken)
    {
        // What the SDK sends, near enough for the fake server.
        var body = JsonSerializer.Serialize(new
        {
            messages = new object[] { new { role = "system", content = "You are a helpful assistant." }, new { role = "user", content = message } },
            stream = true,
            stream_options = new { include_usage = true },
            max_completion_tokens = 100000,
        });
        var request = new HttpRequestMessage(HttpMethod.Post, "openai/deployments/bench/chat/completions?api-version=2025-04-01-preview")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("api-key", "bench-key");
        return ReadAsync(client, request, tokens, relay: false, cancellationToken);
    }

    /// <summary>Any SSE chat stream (a deployed app): chunk arrival times only.</summary>
    public static Task<StreamResult> RemoteAsync(HttpClient client, string message, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new { message });
        var request = new HttpRequestMessage(HttpMethod.Post, "api/chat/stream") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        return ReadAsync(client, request, 0, relay: true, cancellationToken);
    }

    private static async Task<StreamResult> ReadAsync(HttpClient client, HttpRequestMessage request, int tokens, bool relay, CancellationToken cancellationToken)
    {
        var result = new StreamResult(tokens);
        var remote = tokens == 0;
        var arrivals = remote ? new List<long>() : null;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        result.Start = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            result.Headers = Stopwatch.GetTimestamp();
            result.Status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                result.Error = $"HTTP {(int)response.StatusCode}";
                return result;
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var parser = relay
                ? SseParser.Create(stream, static (_, data) => ParseRelay(data))
                : SseParser.Create(stream, static (_, data) => ParseDirect(data));
            long lastId = 0;
            var next = 0;
            await foreach (var item in parser.EnumerateAsync(cancellationToken))
            {
                var now = Stopwatch.GetTimestamp();
                var frame = item.Data;
                if (relay)
                {
                    // Ids are "<streamId>:<seq>": the frame number follows the last colon.
                    var eventId = parser.LastEventId;
                    if (!long.TryParse(eventId.AsSpan(eventId.LastIndexOf(':') + 1), System.Globalization.CultureInfo.InvariantCulture, out var id) || id != lastId + 1)
                    {
                        result.IdGap = true;
                    }

                    lastId = id;
                }

                switch (frame.Kind)
                {
                    case FrameKind.Chunk:
                        if (result.Chunks++ == 0)
                        {
                            result.FirstChunk = now;
                        }

                        if (remote)
                        {
                            arrivals!.Add(now);
                            break;
                        }

                        if (frame.TokenIndex != next)
                        {
                            result.Reordered = true;
                        }

                        next = frame.TokenIndex + 1;
                        if ((uint)frame.TokenIndex < (uint)tokens)
                        {
                            result.Received[frame.TokenIndex] = now;
                            if (frame.SentTimestamp != 0)
                            {
                                result.Sent[frame.TokenIndex] = frame.SentTimestamp;
                            }
                        }

                        break;
                    case FrameKind.Error:
                        result.Error = "error frame";
                        break;
                    case FrameKind.Done:
                        result.Done = true;
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            result.Error ??= ex.GetType().Name + ": " + ex.Message;
        }

        result.End = Stopwatch.GetTimestamp();
        result.Arrivals = arrivals;
        return result;
    }

    /// <summary>{"chunk":"t12 "} / {"meta":...} / {"error":...} / {"done":...}.</summary>
    internal static Frame ParseRelay(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith("{\"chunk\":\""u8))
        {
            var text = data[10..];
            var index = -1;
            if (text.Length > 1 && text[0] == (byte)'t' && Utf8Parser.TryParse(text[1..], out int i, out _))
            {
                index = i;
            }

            return new Frame(FrameKind.Chunk, index, 0, text.Length - 2);
        }

        return data.StartsWith("{\"done\""u8) ? new Frame(FrameKind.Done, -1, 0, 0)
            : data.StartsWith("{\"error\""u8) ? new Frame(FrameKind.Error, -1, 0, 0)
            : data.StartsWith("{\"meta\""u8) ? new Frame(FrameKind.Meta, -1, 0, 0)
            : default;
    }

    /// <summary>Azure OpenAI chat.completion.chunk: delta.content "t12 " and x_sent_timestamp; [DONE] at the end.</summary>
    internal static Frame ParseDirect(ReadOnlySpan<byte> data)
    {
        if (data.SequenceEqual("[DONE]"u8))
        {
            return new Frame(FrameKind.Done, -1, 0, 0);
        }

        var content = data.IndexOf("\"content\":\"t"u8);
        if (content < 0)
        {
            return default;
        }

        Utf8Parser.TryParse(data[(content + 12)..], out int index, out _);
        long sent = 0;
        var ts = data.IndexOf("\"x_sent_timestamp\":"u8);
        if (ts >= 0)
        {
            Utf8Parser.TryParse(data[(ts + 19)..], out sent, out _);
        }

        return new Frame(FrameKind.Chunk, index, sent, 0);
    }
}
