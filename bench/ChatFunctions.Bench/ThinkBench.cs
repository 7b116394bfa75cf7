using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FakeAzureOpenAI;

namespace ChatFunctions.Bench;

public sealed record ThinkBenchOptions
{
    /// <summary>The fake model's think per reasoning effort, as a reasoning model's grows with it.</summary>
    public IReadOnlyDictionary<string, TimeSpan> ThinkByEffort { get; init; } = new Dictionary<string, TimeSpan>
    {
        ["none"] = TimeSpan.Zero,
        ["minimal"] = TimeSpan.FromMilliseconds(250),
        ["low"] = TimeSpan.FromMilliseconds(1000),
        ["medium"] = TimeSpan.FromMilliseconds(3000),
        ["high"] = TimeSpan.FromMilliseconds(8000),
    };

    /// <summary>Sequential replies per effort.</summary>
    public int Replies { get; init; } = 5;

    /// <summary>Null: the app in this process.</summary>
    public string? AppDll { get; init; }

    public Action<string>? Progress { get; init; }
}

/// <summary>One reply: when each part of the wait ended, on one clock (client, app and fake model share the machine).</summary>
public sealed record ThinkSample(double ClientTtftMs, double ModelFirstTokenMs, double BeforeModelMs, double AfterModelMs, double? ThinkingFrameMs, double? ServerThinkingMs, long? ReasoningTokens);

public sealed record ThinkBenchRow(string Effort, TimeSpan Think, IReadOnlyList<ThinkSample> Samples);

/// <summary>
/// Time to first token at each reasoning effort against a fake model whose think is configured per effort: what the
/// user waits, what of it the model took (request received → first token sent), and what the relay added on either
/// side of the model. The app under test sends CHAT_REASONING_EFFORT, the fake looks it up, so the effort really
/// travels on the wire.
/// </summary>
public static class ThinkBench
{
    public const int ReasoningTokens = 128;

    public static async Task<IReadOnlyList<ThinkBenchRow>> RunAsync(ThinkBenchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var fake = await FakeAzureOpenAIServer.StartAsync(cancellationToken: cancellationToken);
        fake.DefaultScript = FakeScript.Reply("The", " answer", ",", " after", " thought", ".") with
        {
            ThinkTimeByEffort = options.ThinkByEffort,
            ReasoningTokens = ReasoningTokens,
            FilterChunkEvery = 0,
        };
        var rows = new List<ThinkBenchRow>();
        foreach (var (effort, think) in options.ThinkByEffort)
        {
            await using var app = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll,
                new Dictionary<string, string> { ["CHAT_REASONING_EFFORT"] = effort }, cancellationToken);
            using var client = StreamClient.CreateHttpClient(app.BaseAddress);
            // One reply first, not measured: connections, JIT and the model client's first use.
            await ReadOneAsync(client, fake, cancellationToken);
            var samples = new List<ThinkSample>();
            for (var i = 0; i < options.Replies; i++)
            {
                samples.Add(await ReadOneAsync(client, fake, cancellationToken));
            }

            var sent = fake.Requests.Last().Body["reasoning_effort"]?.GetValue<string>();
            if (sent != effort)
            {
                throw new InvalidOperationException($"the app sent reasoning_effort '{sent}' for CHAT_REASONING_EFFORT={effort}");
            }

            rows.Add(new ThinkBenchRow(effort, think, samples));
            options.Progress?.Invoke($"{effort}: think {think.TotalMilliseconds} ms, TTFT p50 {Median(samples.Select(s => s.ClientTtftMs)):F1} ms");
        }

        return rows;
    }

    private static async Task<ThinkSample> ReadOneAsync(HttpClient client, FakeAzureOpenAIServer fake, CancellationToken cancellationToken)
    {
        var requestsBefore = fake.Requests.Count;
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/chat/stream")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { message = "think, then answer" }), Encoding.UTF8, "application/json"),
        };
        var start = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        long? thinkingAt = null;
        long? firstChunkAt = null;
        JsonObject? done = null;
        await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken))
        {
            var now = Stopwatch.GetTimestamp();
            var data = JsonNode.Parse(item.Data)!.AsObject();
            if (data.ContainsKey("thinking"))
            {
                thinkingAt ??= now;
            }
            else if (data.ContainsKey("chunk"))
            {
                firstChunkAt ??= now;
            }
            else if (data.ContainsKey("done"))
            {
                done = data;
                break;
            }
        }

        if (firstChunkAt is null || done is null || fake.Requests.Count != requestsBefore + 1)
        {
            throw new InvalidOperationException("a reply ended without text or done");
        }

        var model = fake.Requests.Last();
        var firstTokenSent = model.TokenSentTimestamps.First();
        return new ThinkSample(
            ClientTtftMs: Ms(start, firstChunkAt.Value),
            ModelFirstTokenMs: Ms(model.ReceivedTimestamp, firstTokenSent),
            BeforeModelMs: Ms(start, model.ReceivedTimestamp),
            AfterModelMs: Ms(firstTokenSent, firstChunkAt.Value),
            ThinkingFrameMs: thinkingAt is { } t ? Ms(start, t) : null,
            ServerThinkingMs: done["metrics"]?["thinkingMs"]?.GetValue<double>(),
            ReasoningTokens: done["usage"]?["reasoningTokens"]?.GetValue<long>());
    }

    private static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static string Table(IReadOnlyList<ThinkBenchRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder();
        text.AppendLine("| effort | fake model's think (ms) | TTFT in the client, p50 (ms) | model: request received → first token sent, p50 (ms) | relay before the model, p50 (ms) | relay after the model, p50 (ms) | TTFT − think, max (ms) | thinking frame at, p50 (ms) | server's thinkingMs, p50 | reasoning tokens |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in rows)
        {
            var s = row.Samples;
            var think = row.Think.TotalMilliseconds;
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Effort} | {think:F0} | {Median(s.Select(x => x.ClientTtftMs)):F1} | {Median(s.Select(x => x.ModelFirstTokenMs)):F1} | {Median(s.Select(x => x.BeforeModelMs)):F1} | {Median(s.Select(x => x.AfterModelMs)):F1} | {s.Max(x => x.ClientTtftMs - think):F1} | {Median(s.Where(x => x.ThinkingFrameMs is not null).Select(x => x.ThinkingFrameMs!.Value)):F1} | {Median(s.Where(x => x.ServerThinkingMs is not null).Select(x => x.ServerThinkingMs!.Value)):F1} | {s[0].ReasoningTokens} |"));
        }

        return text.ToString();
    }
}
