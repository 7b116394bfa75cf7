using System.Globalization;
using System.Text;
using ChatFunctions.Models;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Bench;

public sealed record TelemetryMemoryRow(string Layer, bool Listening, int Round, double BytesPerStream);

/// <summary>
/// Bytes the telemetry layer holds per open stream: <c>streams</c> streams opened through the protocol client (a
/// recorded stream of the fake server's bytes, in memory), each read <c>tokens</c> text updates in and left open;
/// live heap after a full GC (GC.GetTotalMemory(true)) minus before, ÷ streams. The same with no telemetry layer is
/// the baseline: the difference is what the layer holds. Rounds alternate the layers so drift hits them alike.
/// </summary>
public static class TelemetryMemory
{
    private static readonly (string Name, Func<IChatClient, IChatClient> Wrap)[] Layers =
    [
        ("none", static inner => inner),
        ("M.E.AI OpenTelemetryChatClient", Allocations.WithMeaiMiddleware),
        ("GenAiTelemetryChatClient", static inner => new ChatClientTelemetry().Build(inner, EmptyServices.Instance)),
    ];

    public static async Task<IReadOnlyList<TelemetryMemoryRow>> RunAsync(int streams, int tokens, int rounds, CancellationToken cancellationToken = default)
    {
        var recorded = await Allocations.RecordFakeStreamAsync(tokens, cancellationToken);
        var rows = new List<TelemetryMemoryRow>();
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var listening in new[] { false, true })
            {
                using var listener = listening ? Allocations.Listen() : null;
                foreach (var (name, wrap) in Layers)
                {
                    var held = await HeldPerStreamAsync(wrap(Allocations.CreateProtocolClient(recorded)), streams, tokens);
                    rows.Add(new TelemetryMemoryRow(name, listening, round, held));
                }
            }
        }

        return rows;
    }

    public static string Table(IReadOnlyList<TelemetryMemoryRow> rows, int streams, int tokens)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| layer ({streams} open streams, {tokens} tokens in) | listening | live bytes per open stream, each round | held by the layer (− none), median |");
        sb.AppendLine("|---|---|---|---:|");
        foreach (var group in rows.GroupBy(r => (r.Layer, r.Listening)))
        {
            var none = rows.Where(r => r.Layer == "none" && r.Listening == group.Key.Listening).ToDictionary(r => r.Round, r => r.BytesPerStream);
            var deltas = group.Select(r => r.BytesPerStream - none[r.Round]).Order().ToList();
            var median = deltas[deltas.Count / 2];
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Layer} | {(group.Key.Listening ? "yes" : "no")} | {string.Join(" · ", group.Select(r => r.BytesPerStream.ToString("N0", CultureInfo.InvariantCulture)))} | {median.ToString("N0", CultureInfo.InvariantCulture)} |");
        }

        return sb.ToString();
    }

    private static async Task<double> HeldPerStreamAsync(IChatClient client, int streams, int tokens)
    {
        ChatMessage[] messages = [new ChatMessage(ChatRole.User, "hi")];
        // Warm up: JIT, the SDK pipeline's and the instruments' one-time objects are not per stream.
        await using (var warm = client.GetStreamingResponseAsync(messages).GetAsyncEnumerator())
        {
            while (await warm.MoveNextAsync())
            {
            }
        }

        var open = new List<IAsyncEnumerator<ChatResponseUpdate>>(streams);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < streams; i++)
        {
            var stream = client.GetStreamingResponseAsync(messages).GetAsyncEnumerator();
            for (var t = 0; t < tokens; t++)
            {
                if (!await stream.MoveNextAsync())
                {
                    throw new InvalidOperationException($"The recorded stream ended before {tokens} updates.");
                }
            }

            open.Add(stream);
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        foreach (var stream in open)
        {
            await stream.DisposeAsync();
        }

        client.Dispose();
        return (double)(after - before) / streams;
    }

    private sealed class EmptyServices : IServiceProvider
    {
        public static readonly EmptyServices Instance = new();

        public object? GetService(Type serviceType) => null;
    }
}
