using System.Diagnostics;
using System.Text.RegularExpressions;
using FakeAzureOpenAI;

namespace ChatFunctions.Bench;

public sealed record SweepOptions
{
    public IReadOnlyList<int> Levels { get; init; } = [1, 10, 100, 250, 500, 1000, 1500, 2000];

    /// <summary>Tokens per stream.</summary>
    public int Tokens { get; init; } = 100;

    /// <summary>Upstream token rate per stream.</summary>
    public double TokensPerSecond { get; init; } = 20;

    /// <summary>New streams per second while a level ramps up (bounded below by 0.2 s, above by 4 s of ramp).</summary>
    public double RampStreamsPerSecond { get; init; } = 500;

    /// <summary>The app's dll for an out-of-process run; null runs the app in this process.</summary>
    public string? AppDll { get; init; }

    public bool Direct { get; init; } = true;

    /// <summary>A filter-only chunk after every N tokens, as Azure's asynchronous content filter sends.</summary>
    public int FilterChunkEvery { get; init; } = 10;

    public TimeSpan LevelTimeout { get; init; } = TimeSpan.FromMinutes(2);

    public IReadOnlyDictionary<string, string>? AppEnvironment { get; init; }

    /// <summary>CPUs the app process is pinned to (taskset list), so it competes with neither the fake nor the clients.</summary>
    public string? AppCpus { get; init; }

    /// <summary>The fake serves HTTPS (HTTP/1.1 and HTTP/2 by ALPN) and the app trusts it (relay only).</summary>
    public bool UpstreamTls { get; init; }

    /// <summary>Trace the app's GC during each relay level (<see cref="GcTrace"/>; out of process only): allocations by
    /// type and stack, collections, pauses. Costs the app CPU, so the CPU and latency columns of a traced run are not comparable.</summary>
    public bool GcTrace { get; init; }

    public Action<string>? Progress { get; init; }

    /// <summary>Called before each level (warm-ups included) with its mode and stream count: lets a caller snapshot counters.</summary>
    public Func<string, int, Task>? BeforeLevel { get; init; }
}

public sealed record Percentiles(double P50, double P99, double Max, int Count)
{
    public double P95 { get; init; } = double.NaN;

    public static Percentiles Of(List<double> values)
    {
        if (values.Count == 0)
        {
            return new Percentiles(double.NaN, double.NaN, double.NaN, 0);
        }

        values.Sort();
        return new Percentiles(At(values, 0.50), At(values, 0.99), values[^1], values.Count) { P95 = At(values, 0.95) };
    }

    private static double At(List<double> sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}

public sealed record LevelResult(
    string Mode,
    int Streams,
    Percentiles AddedLatencyMs,
    Percentiles TimeToFirstByteMs,
    Percentiles TimeToFirstTokenMs,
    long TokensReceived,
    long TokensExpected,
    int LostFrames,
    int ReorderedStreams,
    int IdGapStreams,
    int FailedStreams,
    double? CpuMicrosecondsPerToken,
    double? RssKiBPerStream,
    double WallSeconds,
    string? FirstError,
    double? PeersCpuMicrosecondsPerToken = null,
    GcSummary? Gc = null);

public sealed record SweepResult(IReadOnlyList<LevelResult> Levels, string AppGc);

/// <summary>
/// N concurrent streams through the app (relay) and straight from the fake server (direct), per concurrency level.
/// Added latency of a token = client arrival − the fake's send timestamp of that token (same machine, same clock).
/// </summary>
public static partial class Sweep
{
    public static async Task<SweepResult> RunAsync(SweepOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var certificate = options.UpstreamTls ? MemoryBench.LoopbackCertificate() : null;
        await using var fake = await FakeAzureOpenAIServer.StartAsync(0, certificate, cancellationToken);
        var tokens = Enumerable.Range(0, options.Tokens).Select(i => $"t{i} ").ToArray();
        fake.DefaultScript = new FakeScript
        {
            Tokens = tokens,
            TokenInterval = TimeSpan.FromSeconds(1 / options.TokensPerSecond),
            FilterChunkEvery = options.FilterChunkEvery,
        };

        var environment = new Dictionary<string, string>(options.AppEnvironment ?? new Dictionary<string, string>());
        var trusted = Path.Combine(Path.GetTempPath(), $"chat-bench-upstream-{Environment.ProcessId}.pem");
        if (certificate is not null)
        {
            await File.WriteAllTextAsync(trusted, certificate.ExportCertificatePem(), cancellationToken);
            environment["SSL_CERT_FILE"] = trusted; // OpenSSL's trusted roots for the app: the fake's certificate only
        }

        await using var app = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll, environment, cancellationToken, options.AppCpus);
        var appGc = app.OutOfProcess ? "workstation, concurrent (the app's runtimeconfig defaults)" : "in process";
        var results = new List<LevelResult>();

        // Warm-up: JIT, connection pools, thread pool; not reported.
        await Before("relay-warmup", 20);
        await RunLevelAsync("relay-warmup", 20, options with { Tokens = Math.Min(options.Tokens, 20) }, fake, app, tokens, cancellationToken);
        if (options.Direct)
        {
            await Before("direct-warmup", 20);
            await RunLevelAsync("direct-warmup", 20, options with { Tokens = Math.Min(options.Tokens, 20) }, fake, app, tokens, cancellationToken);
        }

        foreach (var level in options.Levels)
        {
            await Before("relay", level);
            results.Add(await RunLevelAsync("relay", level, options, fake, app, tokens, cancellationToken));
            options.Progress?.Invoke(Describe(results[^1]));
            if (options.Direct)
            {
                await Before("direct", level);
                results.Add(await RunLevelAsync("direct", level, options, fake, app, tokens, cancellationToken));
                options.Progress?.Invoke(Describe(results[^1]));
            }
        }

        File.Delete(trusted);
        return new SweepResult(results, appGc);

        Task Before(string mode, int streams) => options.BeforeLevel?.Invoke(mode, streams) ?? Task.CompletedTask;
    }

    public static string Describe(LevelResult r) =>
        $"{r.Mode,-6} {r.Streams,5} streams: latency p50 {r.AddedLatencyMs.P50:F2} p99 {r.AddedLatencyMs.P99:F2} max {r.AddedLatencyMs.Max:F1} ms, "
        + $"TTFB p50 {r.TimeToFirstByteMs.P50:F1} ms, lost {r.LostFrames}, reordered {r.ReorderedStreams}, id gaps {r.IdGapStreams}, failed {r.FailedStreams}, "
        + $"CPU {r.CpuMicrosecondsPerToken?.ToString("F1") ?? "-"} µs/token (fake+clients {r.PeersCpuMicrosecondsPerToken?.ToString("F1") ?? "-"}), RSS {r.RssKiBPerStream?.ToString("F1") ?? "-"} KiB/stream, {r.WallSeconds:F1} s"
        + (r.Gc is { } gc ? $", GC pause {gc.PauseMs:F0} ms in {gc.Gen0 + gc.Gen1 + gc.Gen2} GCs, {gc.AllocatedBytesPerToken:F0} B/token allocated" : "")
        + (r.FirstError is null ? "" : $" (first error: {r.FirstError})");

    private static async Task<LevelResult> RunLevelAsync(
        string mode, int streams, SweepOptions options, FakeAzureOpenAIServer fake, AppUnderTest app, string[] tokens, CancellationToken cancellationToken)
    {
        var relay = mode.StartsWith("relay", StringComparison.Ordinal);
        var tokenCount = options.Tokens;
        var tag = $"{mode}-{streams}-{Guid.NewGuid():N}"[..24];
        using var client = StreamClient.CreateHttpClient(relay ? app.BaseAddress : fake.Endpoint);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.LevelTimeout);

        var measureCpu = relay && ProcStats.Available;
        var pid = app.ProcessId;
        var cpuBefore = measureCpu ? ProcStats.CpuTime(pid) : TimeSpan.Zero;
        // This process is the fake model (one send per token) and the clients (one receive per token): in the direct
        // mode its CPU per token is what the issue calls the limit, one receive and one send per token.
        var peersCpuBefore = ProcStats.Available ? ProcStats.CpuTime(Environment.ProcessId) : TimeSpan.Zero;
        var rssBefore = measureCpu ? ProcStats.Rss(pid) : 0;
        long rssPeak = rssBefore;
        using var sampling = new CancellationTokenSource();
        var sampler = measureCpu ? Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                rssPeak = Math.Max(rssPeak, ProcStats.Rss(pid));
                try
                {
                    await Task.Delay(100, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }, CancellationToken.None) : Task.CompletedTask;

        var gcTrace = options.GcTrace && mode == "relay" && app.OutOfProcess
            ? GcTrace.Start(pid, Path.Combine(Path.GetTempPath(), $"chat-bench-gc-{Environment.ProcessId}-{streams}.nettrace"))
            : null;
        var wall = Stopwatch.StartNew();
        var ramp = TimeSpan.FromSeconds(Math.Clamp(streams / options.RampStreamsPerSecond, 0.2, 4));
        var tasks = new Task<StreamResult>[streams];
        for (var k = 0; k < streams; k++)
        {
            var due = ramp * k / streams;
            var wait = due - wall.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, timeout.Token);
            }

            var message = $"bench {tag} {k}";
            tasks[k] = relay
                ? StreamClient.RelayAsync(client, message, tokenCount, timeout.Token)
                : StreamClient.DirectAsync(client, message, tokenCount, timeout.Token);
        }

        var results = await Task.WhenAll(tasks);
        wall.Stop();
        await sampling.CancelAsync();
        await sampler;
        var cpuAfter = measureCpu ? ProcStats.CpuTime(pid) : TimeSpan.Zero;
        var peersCpu = ProcStats.Available ? ProcStats.CpuTime(Environment.ProcessId) - peersCpuBefore : TimeSpan.Zero;
        // After the CPU readings: the app's rundown and this process's reading of the trace are not the level's work.
        var gc = gcTrace is null ? null : await gcTrace.StopAsync(results.Sum(r => r.Received.Count(t => t != 0)), cancellationToken);

        if (relay)
        {
            // The app forwards only the text: match each token to the fake's send time by stream and index.
            var byMessage = new Dictionary<int, RecordedRequest>();
            foreach (var recorded in fake.Requests)
            {
                var match = MessageKey().Match(recorded.Body.ToJsonString());
                if (match.Success && match.Groups[1].Value == tag)
                {
                    byMessage[int.Parse(match.Groups[2].ValueSpan, System.Globalization.CultureInfo.InvariantCulture)] = recorded;
                }
            }

            for (var k = 0; k < streams; k++)
            {
                if (byMessage.TryGetValue(k, out var recorded))
                {
                    var sent = recorded.TokenSentTimestamps.ToArray();
                    Array.Copy(sent, results[k].Sent, Math.Min(sent.Length, tokenCount));
                }
            }
        }

        var latency = new List<double>(streams * tokenCount);
        var ttfb = new List<double>(streams);
        var ttft = new List<double>(streams);
        long received = 0;
        int lost = 0, reordered = 0, gaps = 0, failed = 0;
        string? firstError = null;
        foreach (var r in results)
        {
            lost += r.Lost;
            reordered += r.Reordered ? 1 : 0;
            gaps += r.IdGap ? 1 : 0;
            if (r.Error is not null || !r.Done)
            {
                failed++;
                firstError ??= r.Error ?? "no done frame";
            }

            if (r.Headers != 0)
            {
                ttfb.Add(Stopwatch.GetElapsedTime(r.Start, r.Headers).TotalMilliseconds);
            }

            if (r.FirstChunk != 0)
            {
                ttft.Add(Stopwatch.GetElapsedTime(r.Start, r.FirstChunk).TotalMilliseconds);
            }

            for (var i = 0; i < r.ExpectedTokens; i++)
            {
                if (r.Received[i] != 0)
                {
                    received++;
                    if (r.Sent[i] != 0)
                    {
                        latency.Add(Stopwatch.GetElapsedTime(r.Sent[i], r.Received[i]).TotalMilliseconds);
                    }
                }
            }
        }

        var cpu = cpuAfter - cpuBefore;
        double? cpuPerToken = measureCpu && received > 0 && cpu >= TimeSpan.FromMilliseconds(200) ? cpu.TotalMicroseconds / received : null;
        double? rssPerStream = measureCpu && streams >= 100 ? (rssPeak - rssBefore) / 1024.0 / streams : null;
        double? peersCpuPerToken = received > 0 && peersCpu >= TimeSpan.FromMilliseconds(200) ? peersCpu.TotalMicroseconds / received : null;
        return new LevelResult(mode, streams, Percentiles.Of(latency), Percentiles.Of(ttfb), Percentiles.Of(ttft), received,
            (long)streams * tokenCount, lost, reordered, gaps, failed, cpuPerToken, rssPerStream, wall.Elapsed.TotalSeconds, firstError,
            peersCpuPerToken, gc);
    }

    [GeneratedRegex(@"bench ([0-9a-z\-]+) (\d+)")]
    private static partial Regex MessageKey();
}
