using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.ServerSentEvents;
using System.Net.Sockets;
using System.Text;
using FakeAzureOpenAI;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Bench;

public sealed record ResumeBenchOptions
{
    public IReadOnlyList<int> Levels { get; init; } = [100, 1000];

    public int Tokens { get; init; } = 100;

    public double TokensPerSecond { get; init; } = 20;

    /// <summary>Streams per level that a second app instance resumes mid-reply (the resume-delay sample).</summary>
    public int ResumedStreams { get; init; } = 50;

    /// <summary>Rounds of the resume-delay measurement per level, one after another on the same two app processes, so
    /// that a percentile rests on enough resumes (each round resumes <see cref="ResumedStreams"/>).</summary>
    public int ResumeRounds { get; init; } = 1;

    /// <summary>Replies of <see cref="CostReplyTokens"/> tokens at <see cref="CostTokensPerSecond"/> for the transactions of a long reply; 0 skips it.</summary>
    public int CostReplies { get; init; } = 10;

    public int CostReplyTokens { get; init; } = 1_000;

    public double CostTokensPerSecond { get; init; } = 50;

    /// <summary>The app's dll (out of process, as measured); null runs the apps in this process (smoke tests).</summary>
    public string? AppDll { get; init; }

    /// <summary>An Azurite already running (its blob and table ports); null starts one with scripts/azurite.sh.</summary>
    public (int Blob, int Table)? Azurite { get; init; }

    public TimeSpan LevelTimeout { get; init; } = TimeSpan.FromMinutes(3);

    [System.Text.Json.Serialization.JsonIgnore]
    public Action<string>? Progress { get; init; }
}

/// <param name="Persistence">"off" (in-memory store) or "on" (append blobs on Azurite).</param>
/// <param name="TransactionsPerReply">Storage requests per reply (every request the app sent to the blob service, retries included), on only.</param>
/// <param name="ResumeDelayMs">Per frame: arrival at a client resumed on instance B − arrival at the producer's own client on A, which stays (a second reader; on only).</param>
/// <param name="DroppedResumeDelayMs">Per frame: arrival on B − the model's send time, when the client on A dropped its connection and resumed on B (the usual case; on only).</param>
/// <param name="StoreAppendMs">A probe's append round trips to the same Azurite while the drops were measured (every 100 ms): the store's share of the delay.</param>
/// <param name="StoreReadMs">The probe's ranged read round trips, likewise.</param>
public sealed record ResumeLevelResult(
    string Persistence,
    int Streams,
    LevelResult Sweep,
    double? TransactionsPerReply,
    IReadOnlyDictionary<string, double>? TransactionsByKind,
    Percentiles? ResumeDelayMs,
    int ResumeFailures,
    Percentiles? DroppedResumeDelayMs = null,
    Percentiles? StoreAppendMs = null,
    Percentiles? StoreReadMs = null);

public sealed record ResumeBenchResult(IReadOnlyList<ResumeLevelResult> Levels, double? TransactionsPerLongReply, IReadOnlyDictionary<string, double>? LongReplyByKind, ResumeBenchOptions Options);

/// <summary>
/// Resumable streams' cost (docs/benchmarks.md, "Resumable streams"): the relay sweep with persistence off (the
/// in-memory store) and on (append blobs on Azurite through a counting proxy) in the same run, then the resume delay
/// across two app processes sharing the store, and the storage transactions of a long reply.
/// </summary>
public static class ResumeBench
{
    public static async Task<ResumeBenchResult> RunAsync(ResumeBenchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var progress = options.Progress ?? (_ => { });
        await using var azurite = options.Azurite is null ? await AzuriteProcess.StartAsync(cancellationToken) : null;
        var (blobPort, tablePort) = options.Azurite ?? (azurite!.BlobPort, azurite.TablePort);
        await using var proxy = await CountingProxy.StartAsync(blobPort, cancellationToken);
        var direct = ConnectionString(blobPort, tablePort);
        var counted = ConnectionString(proxy.Port, tablePort);

        var sweepOptions = new SweepOptions
        {
            Levels = options.Levels,
            Tokens = options.Tokens,
            TokensPerSecond = options.TokensPerSecond,
            AppDll = options.AppDll,
            Direct = false,
            LevelTimeout = options.LevelTimeout,
            Progress = line => progress("  " + line),
        };

        progress("persistence off (in-memory store) ...");
        var off = await Sweep.RunAsync(sweepOptions, cancellationToken);

        progress("persistence on (append blobs on Azurite, counted) ...");
        var snapshots = new List<(string Mode, int Streams, Dictionary<string, long> Counts)>();
        var on = await Sweep.RunAsync(sweepOptions with
        {
            AppEnvironment = new Dictionary<string, string> { ["AzureWebJobsStorage"] = counted },
            BeforeLevel = async (mode, streams) =>
            {
                // The producers append their last batch after done (within a flush interval on a quiet machine): the
                // previous level's requests are all counted once every log created holds its done frame.
                await proxy.WaitUntilLogsCompleteAsync(options.LevelTimeout, cancellationToken);
                snapshots.Add((mode, streams, proxy.Snapshot()));
            },
        }, cancellationToken);
        await proxy.WaitUntilLogsCompleteAsync(options.LevelTimeout, cancellationToken);
        snapshots.Add(("end", 0, proxy.Snapshot()));

        var results = new List<ResumeLevelResult>();
        foreach (var level in off.Levels)
        {
            results.Add(new ResumeLevelResult("off", level.Streams, level, null, null, null, 0));
        }

        foreach (var level in on.Levels)
        {
            var start = snapshots.FindIndex(s => s.Mode == level.Mode && s.Streams == level.Streams);
            var byKind = Delta(snapshots[start].Counts, snapshots[start + 1].Counts).ToDictionary(kv => kv.Key, kv => kv.Value / (double)level.Streams);
            progress($"  on {level.Streams}: {byKind.Values.Sum():F1} storage requests per reply ({Describe(byKind)})");
            progress($"resume delay across processes, {level.Streams} streams ...");
            using var probing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var probe = ProbeStoreAsync(direct, probing.Token);
            var (dropped, droppedFailures) = await ResumeDelayAsync(options, level.Streams, direct, dropA: true, cancellationToken);
            await probing.CancelAsync();
            var (appendMs, readMs) = await probe;
            progress($"  client dropped on A, resumed on B: p50 {dropped.P50:F0} ms, p95 {dropped.P95:F0} ms, p99 {dropped.P99:F0} ms behind the model over {dropped.Count} frames, {droppedFailures} failed");
            progress($"  store round trips meanwhile: append p50 {appendMs.P50:F0} / p95 {appendMs.P95:F0} / p99 {appendMs.P99:F0} ms, read p50 {readMs.P50:F0} / p95 {readMs.P95:F0} / p99 {readMs.P99:F0} ms");
            var (delay, failures) = await ResumeDelayAsync(options, level.Streams, direct, dropA: false, cancellationToken);
            progress($"  second reader on B while A's stays: p50 {delay.P50:F0} ms, p99 {delay.P99:F0} ms behind A over {delay.Count} frames, {failures} failed");
            results.Add(new ResumeLevelResult("on", level.Streams, level, byKind.Values.Sum(), byKind, delay, failures + droppedFailures, dropped, appendMs, readMs));
        }

        double? longReply = null;
        Dictionary<string, double>? longByKind = null;
        if (options.CostReplies > 0)
        {
            progress($"transactions of a {options.CostReplyTokens}-token reply at {options.CostTokensPerSecond} tokens/s ...");
            var before = proxy.Snapshot();
            await Sweep.RunAsync(sweepOptions with
            {
                Levels = [options.CostReplies],
                Tokens = options.CostReplyTokens,
                TokensPerSecond = options.CostTokensPerSecond,
                AppEnvironment = new Dictionary<string, string> { ["AzureWebJobsStorage"] = counted },
                BeforeLevel = async (mode, _) =>
                {
                    await proxy.WaitUntilLogsCompleteAsync(options.LevelTimeout, cancellationToken);
                    if (mode == "relay")
                    {
                        before = proxy.Snapshot();
                    }
                },
            }, cancellationToken);
            await proxy.WaitUntilLogsCompleteAsync(options.LevelTimeout, cancellationToken);
            longByKind = Delta(before, proxy.Snapshot()).ToDictionary(kv => kv.Key, kv => kv.Value / (double)options.CostReplies);
            longReply = longByKind.Values.Sum();
            progress($"  {longReply:F1} storage requests per reply ({Describe(longByKind)})");
        }

        return new ResumeBenchResult(results, longReply, longByKind, options);
    }

    /// <summary>Times an append and a ranged read of a probe blob every 100 ms until cancelled: what one store round
    /// trip costs under the load being measured.</summary>
    private static async Task<(Percentiles Append, Percentiles Read)> ProbeStoreAsync(string storage, CancellationToken cancellationToken)
    {
        var appends = new List<double>();
        var reads = new List<double>();
        var container = new Azure.Storage.Blobs.BlobServiceClient(storage, ChatFunctions.Resumption.BlobStreamLogStore.CreateClientOptions())
            .GetBlobContainerClient("bench-probe");
        try
        {
            await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            var blob = Azure.Storage.Blobs.Specialized.SpecializedBlobExtensions.GetAppendBlobClient(container, Guid.NewGuid().ToString("N"));
            await blob.CreateAsync(new Azure.Storage.Blobs.Models.AppendBlobCreateOptions(), cancellationToken);
            long length = 0;
            var block = new byte[200];
            while (!cancellationToken.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                using (var content = new MemoryStream(block))
                {
                    await blob.AppendBlockAsync(content, cancellationToken: cancellationToken);
                }

                appends.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                started = Stopwatch.GetTimestamp();
                await blob.DownloadContentAsync(new Azure.Storage.Blobs.Models.BlobDownloadOptions { Range = new Azure.HttpRange(length) }, cancellationToken);
                reads.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                length += block.Length;
                await Task.Delay(100, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        return (Percentiles.Of(appends), Percentiles.Of(reads));
    }

    public static string ConnectionString(int blobPort, int tablePort) =>
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        $"BlobEndpoint=http://127.0.0.1:{blobPort}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{tablePort}/devstoreaccount1;";

    public static string Describe(IReadOnlyDictionary<string, double> byKind) =>
        string.Join(", ", byKind.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value.ToString("F2", CultureInfo.InvariantCulture)}"));

    private static Dictionary<string, long> Delta(Dictionary<string, long> before, Dictionary<string, long> after) =>
        after.Select(kv => (kv.Key, Value: kv.Value - before.GetValueOrDefault(kv.Key))).Where(kv => kv.Value > 0).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>
    /// N paced streams on instance A, each read by its own client; <see cref="ResumeBenchOptions.ResumedStreams"/> of
    /// them are also resumed on instance B from their third frame. With <paramref name="dropA"/> the client on A then
    /// drops its connection (a reconnect that lands elsewhere), and B's arrival is measured against the model's send
    /// time; without it A's client reads on (a second reader), and B's arrival is measured against A's.
    /// </summary>
    private static async Task<(Percentiles Delay, int Failures)> ResumeDelayAsync(ResumeBenchOptions options, int streams, string storage, bool dropA, CancellationToken cancellationToken)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(cancellationToken: cancellationToken);
        fake.DefaultScript = new FakeScript
        {
            Tokens = [.. Enumerable.Range(0, options.Tokens).Select(i => $"t{i} ")],
            TokenInterval = TimeSpan.FromSeconds(1 / options.TokensPerSecond),
            FilterChunkEvery = 10,
        };
        var environment = new Dictionary<string, string> { ["AzureWebJobsStorage"] = storage };
        await using var a = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll, environment, cancellationToken);
        await using var b = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll, environment, cancellationToken);
        using var clientA = StreamClient.CreateHttpClient(a.BaseAddress);
        using var clientB = StreamClient.CreateHttpClient(b.BaseAddress);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.LevelTimeout * Math.Max(1, options.ResumeRounds));

        var resumed = Math.Min(streams, options.ResumedStreams);
        var delays = new ConcurrentBag<double>();
        var failures = 0;
        var ramp = TimeSpan.FromSeconds(Math.Clamp(streams / 500.0, 0.2, 4));
        for (var round = 0; round < Math.Max(1, options.ResumeRounds); round++)
        {
            var roundNumber = round;
            var clock = Stopwatch.StartNew();
            var tasks = new List<Task>(streams);
            for (var k = 0; k < streams; k++)
            {
                var wait = ramp * k / streams - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, timeout.Token);
                }

                // Spread the resumed ones over the level.
                var index = k;
                var resume = k % Math.Max(1, streams / resumed) == 0 && k / Math.Max(1, streams / resumed) < resumed;
                tasks.Add(Task.Run(async () =>
                {
                    try
                    {
                        foreach (var d in await OneAsync(clientA, clientB, fake, $"resume {roundNumber}.{index}.", resume, dropA, timeout.Token))
                        {
                            delays.Add(d);
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
                    {
                        if (Interlocked.Increment(ref failures) == 1)
                        {
                            options.Progress?.Invoke($"  first resume failure: {ex.GetType().Name}: {ex.Message}");
                        }
                    }
                }, CancellationToken.None));
            }

            await Task.WhenAll(tasks);
        }

        return (Percentiles.Of([.. delays]), failures);
    }

    private static async Task<List<double>> OneAsync(HttpClient a, HttpClient b, FakeAzureOpenAIServer fake, string message, bool resume, bool dropA, CancellationToken cancellationToken)
    {
        using var post = new HttpRequestMessage(HttpMethod.Post, "api/chat/stream")
        {
            Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(new { message }), Encoding.UTF8, "application/json"),
        };
        var response = await a.SendAsync(post, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        var arrivalsA = new Dictionary<string, long>();
        Task<Dictionary<string, (long Arrived, string? Chunk)>>? onB = null;
        long resumedAt = 0;
        var parser = SseParser.Create(await response.Content.ReadAsStreamAsync(cancellationToken));
        await foreach (var item in parser.EnumerateAsync(cancellationToken))
        {
            arrivalsA[parser.LastEventId] = Stopwatch.GetTimestamp();
            if (resume && onB is null && arrivalsA.Count == 3)
            {
                if (dropA)
                {
                    response.Dispose(); // the connection drops: A's reader leaves, the reply goes on for the grace window
                }

                resumedAt = Stopwatch.GetTimestamp();
                onB = ReadOnBAsync(b, parser.LastEventId, cancellationToken);
                if (dropA)
                {
                    break;
                }
            }
        }

        response.Dispose();
        if (onB is null)
        {
            return [];
        }

        var arrivalsB = await onB;
        if (dropA)
        {
            // Against the model's send time of each token ("t<i> "): the one clock both sides share. Only tokens the
            // model sent after the resume began: earlier ones are a replay, not a delay of following.
            var request = fake.Requests.First(r => r.Body.ToJsonString().Contains(message, StringComparison.Ordinal));
            var sent = request.TokenSentTimestamps.ToArray();
            var delays = new List<double>();
            foreach (var (_, (arrived, chunk)) in arrivalsB)
            {
                if (chunk is { Length: > 1 } && chunk[0] == 't' && int.TryParse(chunk.AsSpan(1).TrimEnd(), CultureInfo.InvariantCulture, out var token)
                    && token < sent.Length && sent[token] >= resumedAt)
                {
                    delays.Add(Stopwatch.GetElapsedTime(sent[token], arrived).TotalMilliseconds);
                }
            }

            return delays;
        }

        if (arrivalsB.Count + 3 != arrivalsA.Count)
        {
            throw new InvalidOperationException($"B delivered {arrivalsB.Count} frames after the third, A {arrivalsA.Count - 3}");
        }

        return [.. arrivalsB.Where(kv => arrivalsA.ContainsKey(kv.Key)).Select(kv => Stopwatch.GetElapsedTime(arrivalsA[kv.Key], kv.Value.Arrived).TotalMilliseconds)];
    }

    private static async Task<Dictionary<string, (long Arrived, string? Chunk)>> ReadOnBAsync(HttpClient b, string lastEventId, CancellationToken cancellationToken)
    {
        var streamId = lastEventId[..lastEventId.IndexOf(':', StringComparison.Ordinal)];
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/chat/streams/{streamId}");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        using var response = await b.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        var arrivals = new Dictionary<string, (long, string?)>();
        var parser = SseParser.Create(await response.Content.ReadAsStreamAsync(cancellationToken));
        await foreach (var item in parser.EnumerateAsync(cancellationToken))
        {
            var now = Stopwatch.GetTimestamp();
            string? chunk = null;
            if (System.Text.Json.Nodes.JsonNode.Parse(item.Data) is System.Text.Json.Nodes.JsonObject json && json["chunk"] is { } text)
            {
                chunk = text.GetValue<string>();
            }

            arrivals[parser.LastEventId] = (now, chunk);
        }

        return arrivals;
    }

    public static string Table(ResumeBenchResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        static string F(double v, string format = "F1") => double.IsNaN(v) ? "-" : v.ToString(format, CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.AppendLine("| streams | persistence | token latency p50 / p99 (ms) | added p99 vs off (ms) | app CPU (µs/token) | added CPU (µs/token) | storage requests per reply | resume on B after a drop: behind the model p50 / p95 / p99 (ms) | second reader on B: behind A p50 / p99 (ms) | lost / failed |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var level in result.Levels.OrderBy(l => l.Streams).ThenBy(l => l.Persistence == "on"))
        {
            var off = result.Levels.First(l => l.Persistence == "off" && l.Streams == level.Streams).Sweep;
            var s = level.Sweep;
            var on = level.Persistence == "on";
            sb.Append(CultureInfo.InvariantCulture, $"| {level.Streams} | {level.Persistence} | {F(s.AddedLatencyMs.P50, "F2")} / {F(s.AddedLatencyMs.P99, "F2")} | ")
              .Append(on ? F(s.AddedLatencyMs.P99 - off.AddedLatencyMs.P99, "F2") : "-").Append(" | ")
              .Append(s.CpuMicrosecondsPerToken is { } c ? F(c) : "-").Append(" | ")
              .Append(on && s.CpuMicrosecondsPerToken is { } c1 && off.CpuMicrosecondsPerToken is { } c0 ? F(c1 - c0) : "-").Append(" | ")
              .Append(level.TransactionsPerReply is { } t ? $"{F(t)} ({Describe(level.TransactionsByKind!)})" : "-").Append(" | ")
              .Append(level.DroppedResumeDelayMs is { } dd ? $"{F(dd.P50, "F0")} / {F(dd.P95, "F0")} / {F(dd.P99, "F0")} ({dd.Count} frames)" : "-").Append(" | ")
              .Append(level.ResumeDelayMs is { } d ? $"{F(d.P50, "F0")} / {F(d.P99, "F0")} ({d.Count} frames)" : "-").Append(" | ")
              .Append(CultureInfo.InvariantCulture, $"{s.LostFrames} / {s.FailedStreams + level.ResumeFailures} |")
              .AppendLine();
        }

        if (result.TransactionsPerLongReply is { } longReply)
        {
            sb.AppendLine()
              .AppendLine(CultureInfo.InvariantCulture, $"A {result.Options.CostReplyTokens}-token reply at {result.Options.CostTokensPerSecond} tokens/s: {longReply:F1} storage requests ({Describe(result.LongReplyByKind!)}).");
        }

        return sb.ToString();
    }

    /// <summary>Azurite (scripts/azurite.sh, installed into .tools/ on first use) on free ports, for one run.</summary>
    internal sealed class AzuriteProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _data;

        private AzuriteProcess(Process process, string data, int blob, int table)
        {
            _process = process;
            _data = data;
            BlobPort = blob;
            TablePort = table;
        }

        public int BlobPort { get; }

        public int TablePort { get; }

        public static async Task<AzuriteProcess> StartAsync(CancellationToken cancellationToken)
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "ChatFunctions.sln")))
            {
                root = root.Parent;
            }

            var script = Path.Combine(root?.FullName ?? throw new InvalidOperationException("repository root not found"), "scripts", "azurite.sh");
            var ports = new[] { FreePort(), FreePort(), FreePort() };
            var data = Directory.CreateTempSubdirectory("azurite-bench-").FullName;
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { script, "--blob-port", $"{ports[0]}", "--queue-port", $"{ports[1]}", "--table-port", $"{ports[2]}", "--location", data, "--", "--silent" })
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var azurite = new AzuriteProcess(process, data, ports[0], ports[2]);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, ports[0], cancellationToken);
                    return azurite;
                }
                catch (SocketException) when (clock.Elapsed < TimeSpan.FromMinutes(5) && !process.HasExited)
                {
                    await Task.Delay(200, cancellationToken);
                }
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }

            _process.Dispose();
            try
            {
                Directory.Delete(_data, recursive: true);
            }
            catch (IOException)
            {
            }

            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// A reverse proxy in front of the blob service that counts every request by kind: each is a billed storage
/// transaction. Shared-key signatures do not cover the host, so requests pass through unchanged.
/// </summary>
public sealed class CountingProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Content-Length", "Expect",
    };

    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    /// <summary>How often <see cref="WaitUntilLogsCompleteAsync"/> looks at the count again.</summary>
    private static readonly TimeSpan LookAgain = TimeSpan.FromMilliseconds(20);

    private readonly ConcurrentDictionary<string, long> _counts = new();
    private long _completedLogs;

    private CountingProxy(WebApplication app, HttpClient upstream)
    {
        _app = app;
        _upstream = upstream;
    }

    public int Port { get; private set; }

    public Dictionary<string, long> Snapshot() => _counts.ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>Appends the service took that carried a stream's done frame: logs the store now holds whole.</summary>
    public long CompletedLogs => Interlocked.Read(ref _completedLogs);

    /// <summary>Waits until every log created through the proxy holds its done frame, so that a snapshot counts all of
    /// their requests; <paramref name="bound"/> only ends a run that would hang.</summary>
    public async Task WaitUntilLogsCompleteAsync(TimeSpan bound, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (CompletedLogs < _counts.GetValueOrDefault("create"))
        {
            if (clock.Elapsed > bound)
            {
                throw new TimeoutException($"{CompletedLogs} of {_counts.GetValueOrDefault("create")} stream logs got their done frame within {bound.TotalSeconds} s");
            }

            await Task.Delay(LookAgain, cancellationToken);
        }
    }

    public static async Task<CountingProxy> StartAsync(int targetPort, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = null);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var upstream = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{targetPort}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        var proxy = new CountingProxy(app, upstream);
        app.Run(proxy.ForwardAsync);
        await app.StartAsync(cancellationToken);
        proxy.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return proxy;
    }

    /// <summary>append, create, read, properties, metadata, container, other: by method and the comp parameter.</summary>
    public static string Kind(string method, IQueryCollection query)
    {
        var comp = query["comp"].ToString();
        var restype = query["restype"].ToString();
        return (method, comp, restype) switch
        {
            ("PUT", "appendblock", _) => "append",
            ("PUT", "metadata", _) => "set-metadata",
            (_, _, "container") => "container",
            ("PUT", "", _) => "create",
            ("GET", "", _) => "read",
            ("HEAD", "", _) => "properties",
            _ => $"{method} {comp}".Trim(),
        };
    }

    private async Task ForwardAsync(HttpContext context)
    {
        var request = context.Request;
        var kind = Kind(request.Method, request.Query);
        _counts.AddOrUpdate(kind, 1, (_, n) => n + 1);
        using var forward = new HttpRequestMessage(new HttpMethod(request.Method), request.Path + request.QueryString);
        var carriesDone = false;
        if (kind == "append")
        {
            // A batch of whole frames: kept to see whether it ends the stream (the done frame).
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, context.RequestAborted);
            var bytes = body.ToArray();
            carriesDone = bytes.AsSpan().IndexOf("data: {\"done\":"u8) >= 0;
            forward.Content = new ByteArrayContent(bytes);
        }
        else if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            forward.Content = new StreamContent(request.Body);
        }

        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Contains(name))
            {
                continue;
            }

            if (!forward.Headers.TryAddWithoutValidation(name, values.ToArray()))
            {
                forward.Content ??= new ByteArrayContent([]);
                forward.Content.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        if (request.ContentLength is { } length && forward.Content is not null)
        {
            forward.Content.Headers.ContentLength = length;
        }

        using var response = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        if (carriesDone && response.IsSuccessStatusCode)
        {
            Interlocked.Increment(ref _completedLogs);
        }

        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!HopByHop.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        _upstream.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
