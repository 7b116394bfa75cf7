using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>One frame's exact bytes (UTF-8 text, up to and including its blank line), its sequence number and when it arrived.</summary>
public sealed record RawFrame(string Text, int Sequence, long ArrivedTimestamp);

/// <summary>
/// The chat stream as bytes, not parsed events: resumption promises byte-identical transcripts, so tests compare
/// exactly what went over the wire. Readers here never drain a response they drop (a dropped connection is a cut).
/// </summary>
public static partial class RawSse
{
    /// <summary>An HTTP client that closes a dropped response at once instead of draining it (.NET's default drains).</summary>
    public static HttpClient NonDrainingClient(Uri baseAddress) =>
        new(new SocketsHttpHandler
        {
            ResponseDrainTimeout = TimeSpan.Zero,
            MaxResponseDrainSize = 0,
            MaxConnectionsPerServer = int.MaxValue,
            // A hostile client sends any bytes; .NET refuses non-ASCII header values unless told how to encode them.
            RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8,
        })
        {
            BaseAddress = baseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };

    public static HttpRequestMessage Post(string message) => SseClient.Post(message);

    /// <summary>POSTs a chat message and returns its open event stream with a frame reader over the body. Disposing the
    /// response is a cut: the connection is dropped, never drained.</summary>
    public static async Task<(HttpResponseMessage Response, RawFrameReader Frames)> OpenPostAsync(HttpClient client, string message, CancellationToken cancellationToken)
    {
        using var post = Post(message);
        post.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await client.SendAsync(post, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        return (response, new RawFrameReader(await response.Content.ReadAsStreamAsync(cancellationToken)));
    }

    /// <summary>The EventSource request: GET with the message in the query.</summary>
    public static HttpRequestMessage Get(string message) =>
        new(HttpMethod.Get, "/api/chat/stream?message=" + Uri.EscapeDataString(message));

    /// <summary>GET /api/chat/streams/{streamId}, with Last-Event-ID when given.</summary>
    public static HttpRequestMessage Resume(string streamId, string? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/chat/streams/" + streamId);
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        return request;
    }

    /// <summary>Reads the whole body; asserts a 200 event stream.</summary>
    public static async Task<string> ReadAllAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var frames = await ReadFramesAsync(client, request, int.MaxValue, cancellationToken);
        return string.Concat(frames.Select(f => f.Text));
    }

    /// <summary>Reads until <paramref name="maxBytes"/> bytes arrived (then drops the connection) or the stream ended.</summary>
    public static async Task<byte[]> ReadBytesThenDropAsync(HttpClient client, HttpRequestMessage request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        try
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[maxBytes];
            var read = 0;
            while (read < maxBytes)
            {
                var n = await body.ReadAsync(buffer.AsMemory(read, maxBytes - read), cancellationToken);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            return buffer[..read];
        }
        finally
        {
            // The cut: the connection closes with whatever the server sent after these bytes unread.
            response.Dispose();
        }
    }

    /// <summary>Reads frames as they arrive, each with its arrival time, until the stream ends or <paramref name="maxFrames"/> arrived.</summary>
    public static async Task<List<RawFrame>> ReadFramesAsync(HttpClient client, HttpRequestMessage request, int maxFrames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Fail($"expected 200, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return await ReadFramesAsync(await response.Content.ReadAsStreamAsync(cancellationToken), maxFrames, cancellationToken);
    }

    public static Task<List<RawFrame>> ReadFramesAsync(Stream body, int maxFrames, CancellationToken cancellationToken) =>
        new RawFrameReader(body).ReadAsync(maxFrames, cancellationToken);

    /// <summary>The frame number in a frame's <c>id: &lt;streamId&gt;:&lt;seq&gt;</c> line (0 for a comment).</summary>
    public static int SequenceOf(string frame)
    {
        var match = IdLine().Match(frame);
        return match.Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>The stream id in the first id line of a transcript.</summary>
    public static string StreamIdOf(string transcript)
    {
        var match = IdLine().Match(transcript);
        Assert.True(match.Success, $"no id line in: {transcript}");
        return match.Groups[1].Value;
    }

    /// <summary>
    /// The whole frames in what a cut connection received (an SSE client drops a frame cut in half) and the id of
    /// the last of them, which is what an EventSource sends back as Last-Event-ID.
    /// </summary>
    public static (string WholeFrames, string? LastEventId) WholeFramesOf(byte[] received)
    {
        var end = received.AsSpan().LastIndexOf("\n\n"u8);
        if (end < 0)
        {
            return ("", null);
        }

        var text = Encoding.UTF8.GetString(received, 0, end + 2);
        var ids = IdLine().Matches(text);
        return (text, ids.Count == 0 ? null : $"{ids[^1].Groups[1].Value}:{ids[^1].Groups[2].Value}");
    }

    /// <summary>
    /// A transcript with what differs from run to run made constant: the stream id, the request id and the timings
    /// (the metrics, and the thinking frame's time to first byte). Nothing else is touched, so any other difference is
    /// a real one.
    /// </summary>
    public static string Normalize(string transcript)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        var streamId = IdLine().Match(transcript) is { Success: true } m ? m.Groups[1].Value : null;
        var text = streamId is null ? transcript : transcript.Replace(streamId, "<stream>", StringComparison.Ordinal);
        text = RequestId().Replace(text, "\"requestId\":\"<request>\"");
        text = Thinking().Replace(text, "\"thinking\":{<timing>}");
        return Metrics().Replace(text, "\"metrics\":{<metrics>}");
    }

    [GeneratedRegex(@"^id: ([A-Za-z0-9_-]{22}):(\d+)$", RegexOptions.Multiline)]
    private static partial Regex IdLine();

    [GeneratedRegex("\"requestId\":\"[^\"]*\"")]
    private static partial Regex RequestId();

    [GeneratedRegex("\"metrics\":\\{[^}]*\\}")]
    private static partial Regex Metrics();

    [GeneratedRegex("\"thinking\":\\{[^}]*\\}")]
    private static partial Regex Thinking();
}

/// <summary>Reads whole frames from a response body as they arrive; keeps a partly read frame for the next call.</summary>
public sealed class RawFrameReader(Stream body)
{
    private readonly List<byte> _pending = [];
    private readonly byte[] _buffer = new byte[16 * 1024];

    /// <summary>Whether the body ended.</summary>
    public bool Ended { get; private set; }

    /// <summary>Up to <paramref name="maxFrames"/> frames; fewer when the body ends (a partial frame at the end fails the test).</summary>
    public async Task<List<RawFrame>> ReadAsync(int maxFrames, CancellationToken cancellationToken)
    {
        var frames = new List<RawFrame>();
        var now = Stopwatch.GetTimestamp();
        while (true)
        {
            while (frames.Count < maxFrames && IndexOfBlankLine(_pending) is var end and >= 0)
            {
                var text = Encoding.UTF8.GetString(_pending.GetRange(0, end + 2).ToArray());
                _pending.RemoveRange(0, end + 2);
                frames.Add(new RawFrame(text, RawSse.SequenceOf(text), now));
            }

            if (frames.Count >= maxFrames)
            {
                return frames;
            }

            var n = await body.ReadAsync(_buffer, cancellationToken);
            if (n == 0)
            {
                Ended = true;
                Assert.True(_pending.Count == 0, $"the stream ended inside a frame: {Encoding.UTF8.GetString(_pending.ToArray())}");
                return frames;
            }

            now = Stopwatch.GetTimestamp();
            _pending.AddRange(_buffer.AsSpan(0, n));
        }
    }

    private static int IndexOfBlankLine(List<byte> bytes)
    {
        for (var i = 0; i + 1 < bytes.Count; i++)
        {
            if (bytes[i] == (byte)'\n' && bytes[i + 1] == (byte)'\n')
            {
                return i;
            }
        }

        return -1;
    }
}
