using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>A frame as the client saw it, with when it arrived.</summary>
public sealed record ReceivedFrame(string? Id, string EventType, JsonObject Data, long ArrivedTimestamp)
{
    public bool IsMeta => Data.ContainsKey("meta");

    public bool IsChunk => Data.ContainsKey("chunk");

    public bool IsError => Data.ContainsKey("error");

    public bool IsThinking => Data.ContainsKey("thinking");

    public bool IsDone => Data.ContainsKey("done");

    public bool IsReasoning => Data.ContainsKey("reasoning");

    public string Chunk => Data["chunk"]!.GetValue<string>();
}

/// <summary>Reads the chat stream with System.Net.ServerSentEvents.SseParser, the way a conforming client does.</summary>
public static class SseClient
{
    public static HttpRequestMessage Post(string message, object? history = null)
    {
        var body = JsonSerializer.Serialize(new { message, history = history ?? Array.Empty<object>() });
        return new HttpRequestMessage(HttpMethod.Post, "/api/chat/stream")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
    }

    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    public static async IAsyncEnumerable<ReceivedFrame> ReadFramesAsync(HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var parser = SseParser.Create(stream);
        await foreach (var item in parser.EnumerateAsync(cancellationToken))
        {
            yield return new ReceivedFrame(parser.LastEventId, item.EventType, JsonNode.Parse(item.Data)!.AsObject(), Stopwatch.GetTimestamp());
        }
    }

    public static async Task<List<ReceivedFrame>> ReadAllAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(client, request, cancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var frames = new List<ReceivedFrame>();
        await foreach (var frame in ReadFramesAsync(response, cancellationToken))
        {
            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>The protocol's invariants, checked on every stream a test reads.</summary>
    public static void AssertWellFormed(IReadOnlyList<ReceivedFrame> frames)
    {
        Assert.NotEmpty(frames);
        Assert.True(frames[0].IsMeta, "the first frame is meta");
        Assert.Single(frames, f => f.IsDone);
        Assert.True(frames[^1].IsDone, "done is the last frame");
        Assert.True(frames.Count(f => f.IsError) <= 1, "at most one error frame");
        // At most one thinking frame, and never after text: it says the model accepted the request and sent none yet.
        Assert.True(frames.Count(f => f.IsThinking) <= 1, "at most one thinking frame");
        var thinking = frames.ToList().FindIndex(f => f.IsThinking);
        Assert.True(thinking < 0 || !frames.Take(thinking).Any(f => f.IsChunk || f.IsReasoning), "thinking comes before any chunk or reasoning");
        // Every id is "<streamId>:<seq>": one stream id (the meta frame's), frame numbers 1, 2, 3, …
        var streamId = frames[0].Data["meta"]!["streamId"]!.GetValue<string>();
        Assert.True(ChatFunctions.Resumption.StreamId.IsValid(streamId), $"'{streamId}' is a 22-character base64url stream id");
        Assert.Equal(Enumerable.Range(1, frames.Count).Select(i => $"{streamId}:{i}"), frames.Select(f => f.Id));
        Assert.All(frames, f => Assert.Equal("message", f.EventType));
    }

    public static string Text(IEnumerable<ReceivedFrame> frames) => string.Concat(frames.Where(f => f.IsChunk).Select(f => f.Chunk));
}
