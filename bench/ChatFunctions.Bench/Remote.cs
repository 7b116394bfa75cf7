using System.Diagnostics;

namespace ChatFunctions.Bench;

public sealed record RemoteResult(
    int Streams, int Completed, string? FirstError, Percentiles TimeToFirstByteMs, Percentiles TimeToFirstTokenMs,
    Percentiles InterChunkGapMs, double ChunksPerSecondPerStream, double ChunksPerSecondTotal, int IdGapStreams, double WallSeconds);

/// <summary>
/// A deployed app (or any URL serving /api/chat/stream): N concurrent streams of one prompt. There are no upstream
/// timestamps there, so it measures what a user sees: time to first byte, time to first token, the gaps between chunks.
/// </summary>
public static class Remote
{
    public static async Task<RemoteResult> RunAsync(Uri url, string prompt, int streams, TimeSpan ramp, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        using var client = StreamClient.CreateHttpClient(url);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var wall = Stopwatch.StartNew();
        var tasks = new Task<StreamResult>[streams];
        for (var k = 0; k < streams; k++)
        {
            var wait = ramp * k / Math.Max(1, streams) - wall.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, cts.Token);
            }

            tasks[k] = StreamClient.RemoteAsync(client, prompt, cts.Token);
        }

        var results = await Task.WhenAll(tasks);
        wall.Stop();
        var ttfb = new List<double>();
        var ttft = new List<double>();
        var gaps = new List<double>();
        double rateSum = 0;
        long chunks = 0;
        var completed = 0;
        foreach (var r in results)
        {
            if (r.Headers != 0)
            {
                ttfb.Add(Stopwatch.GetElapsedTime(r.Start, r.Headers).TotalMilliseconds);
            }

            if (r.FirstChunk != 0)
            {
                ttft.Add(Stopwatch.GetElapsedTime(r.Start, r.FirstChunk).TotalMilliseconds);
            }

            var arrivals = r.Arrivals ?? [];
            for (var i = 1; i < arrivals.Count; i++)
            {
                gaps.Add(Stopwatch.GetElapsedTime(arrivals[i - 1], arrivals[i]).TotalMilliseconds);
            }

            chunks += arrivals.Count;
            if (arrivals.Count > 1)
            {
                rateSum += (arrivals.Count - 1) / Stopwatch.GetElapsedTime(arrivals[0], arrivals[^1]).TotalSeconds;
            }

            completed += r.Done && r.Error is null ? 1 : 0;
        }

        return new RemoteResult(streams, completed, results.FirstOrDefault(r => r.Error is not null)?.Error, Percentiles.Of(ttfb), Percentiles.Of(ttft),
            Percentiles.Of(gaps), rateSum / Math.Max(1, results.Count(r => (r.Arrivals?.Count ?? 0) > 1)), chunks / wall.Elapsed.TotalSeconds,
            results.Count(r => r.IdGap), wall.Elapsed.TotalSeconds);
    }
}
