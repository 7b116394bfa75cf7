using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using FakeAzureOpenAI;

namespace ChatFunctions.Bench;

public sealed record MemoryBenchOptions
{
    /// <summary>Open streams at each probe, cumulative (200 then 800 more for 1,000).</summary>
    public IReadOnlyList<int> Levels { get; init; } = [200, 1000];

    /// <summary>Tokens each stream has delivered when it is held open (the fake then pauses before the next one).</summary>
    public int Tokens { get; init; } = 100;

    public double TokensPerSecond { get; init; } = 20;

    public required string AppDll { get; init; }

    public IReadOnlyDictionary<string, string>? AppEnvironment { get; init; }

    /// <summary>A heap census (dump + ClrMD) at each probe: by type, and byte arrays by holder.</summary>
    public bool Census { get; init; }

    /// <summary>The fake serves HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with a self-signed certificate the app is told to
    /// trust (SSL_CERT_FILE), so the upstream connection carries TLS as it does to Azure.</summary>
    public bool UpstreamTls { get; init; }

    /// <summary>Complete replies (of <see cref="Tokens"/> tokens) run before the first probe: what finished replies
    /// still hold shows at that probe (replies kept, heap), e.g. with a shared store given in the app's environment.</summary>
    public int FinishedReplies { get; init; }

    public Action<string>? Progress { get; init; }
}

/// <summary>One probe of the app with <see cref="Streams"/> streams held open mid-reply.</summary>
public sealed record MemoryProbeResult(int Streams, IReadOnlyDictionary<string, double> Values, Census? Census);

/// <summary>
/// `--memory`: the real app out of process (the sweep's configuration) with N streams held open mid-reply: the fake
/// sends <see cref="MemoryBenchOptions.Tokens"/> tokens, then pauses. At each level the probe loaded into the app
/// (<see cref="MemoryProbe"/>, a startup hook) reports the heap after a full GC, GC committed, RSS and our own
/// holders; with <see cref="MemoryBenchOptions.Census"/>, a census by type and of byte arrays by holder. Per stream = the difference between two levels ÷ the
/// streams added, so what the app holds anyway (and the warm-up's finished replies) drops out.
/// </summary>
public static class MemoryBench
{
    /// <summary>Between looks at the app's holders while waiting for it to settle.</summary>
    private static readonly TimeSpan SettlePoll = TimeSpan.FromMilliseconds(50);

    /// <summary>Ends a wait for the app to settle that would hang. A reply the store refused stays in memory for the
    /// grace window (30 s by default) before it leaves.</summary>
    private static readonly TimeSpan SettleBound = TimeSpan.FromMinutes(2);

    public static async Task<IReadOnlyList<MemoryProbeResult>> RunAsync(MemoryBenchOptions options, CancellationToken cancellationToken)
    {
        using var certificate = options.UpstreamTls ? LoopbackCertificate() : null;
        await using var fake = await FakeAzureOpenAIServer.StartAsync(0, certificate, cancellationToken);
        var tokens = Enumerable.Range(0, options.Tokens + 1).Select(i => $"t{i} ").ToArray();
        var interval = TimeSpan.FromSeconds(1 / options.TokensPerSecond);
        fake.DefaultScript = new FakeScript { Tokens = [.. Enumerable.Range(0, 20).Select(i => $"t{i} ")], TokenInterval = TimeSpan.FromMilliseconds(5), FilterChunkEvery = 10 };

        var probePath = Path.Combine(Path.GetTempPath(), $"chat-bench-probe-{Environment.ProcessId}.sock");
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_STARTUP_HOOKS"] = typeof(MemoryProbe).Assembly.Location,
            [MemoryProbe.SocketVariable] = probePath,
            // The paused streams must outlive every probe (gcdumps of a large heap take a while).
            ["CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS"] = "600",
        };
        var trusted = Path.Combine(Path.GetTempPath(), $"chat-bench-upstream-{Environment.ProcessId}.pem");
        if (certificate is not null)
        {
            // OpenSSL (and so .NET on Linux) takes its trusted roots from this file instead of the system's.
            await File.WriteAllTextAsync(trusted, certificate.ExportCertificatePem(), cancellationToken);
            environment["SSL_CERT_FILE"] = trusted;
        }

        foreach (var (k, v) in options.AppEnvironment ?? new Dictionary<string, string>())
        {
            environment[k] = v;
        }

        await using var app = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll, environment, cancellationToken);
        using var client = StreamClient.CreateHttpClient(app.BaseAddress);

        // Warm-up: JIT, pools; these replies finish and stay in the baseline.
        options.Progress?.Invoke("memory: warm-up (20 replies) ...");
        var warmup = Enumerable.Range(0, 20).Select(i => StreamClient.RelayAsync(client, $"warm-up {i}", 20, cancellationToken)).ToArray();
        await Task.WhenAll(warmup);

        if (options.FinishedReplies > 0)
        {
            options.Progress?.Invoke($"memory: {options.FinishedReplies} complete replies of {options.Tokens} tokens ...");
            fake.DefaultScript = new FakeScript { Tokens = [.. tokens.Take(options.Tokens)], TokenInterval = TimeSpan.FromMilliseconds(5), FilterChunkEvery = 10 };
            for (var started = 0; started < options.FinishedReplies; started += 200)
            {
                var batch = Enumerable.Range(started, Math.Min(200, options.FinishedReplies - started))
                    .Select(i => StreamClient.RelayAsync(client, $"finished {i}", options.Tokens, cancellationToken)).ToArray();
                await Task.WhenAll(batch);
            }
        }

        // A client has its done frame before the app has stored the reply (the store takes it after its last frame)
        // and let it leave memory: the baseline waits until no finished reply is left in memory, so it counts what
        // the app keeps of them for good.
        await SettleAsync("every finished reply left memory", holders => holders.GetProperty("liveReplies").GetDouble() == 0);

        fake.DefaultScript = new FakeScript { Tokens = tokens, TokenInterval = interval, FilterChunkEvery = 10, StallAfterTokens = options.Tokens };
        var results = new List<MemoryProbeResult> { await ProbeAsync(0) };
        using var hold = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var open = new List<Task>();
        var reached = 0;
        try
        {
            foreach (var level in options.Levels)
            {
                var add = level - open.Count;
                options.Progress?.Invoke($"memory: opening {add} more streams ({level} in all) ...");
                var wall = Stopwatch.StartNew();
                var ramp = TimeSpan.FromSeconds(Math.Clamp(add / 500.0, 0.2, 4));
                for (var k = 0; k < add; k++)
                {
                    var wait = ramp * k / add - wall.Elapsed;
                    if (wait > TimeSpan.FromMilliseconds(1))
                    {
                        await Task.Delay(wait, cancellationToken);
                    }

                    open.Add(HoldAsync(client, $"memory {open.Count}", options.Tokens, () => Interlocked.Increment(ref reached), hold.Token));
                }

                while (Volatile.Read(ref reached) < level)
                {
                    if (wall.Elapsed > TimeSpan.FromMinutes(2) || open.Any(t => t.IsCompleted))
                    {
                        throw new InvalidOperationException($"only {reached} of {level} streams reached {options.Tokens} tokens"
                            + (open.FirstOrDefault(t => t.IsFaulted)?.Exception?.GetBaseException().Message is { } error ? ": " + error : ""));
                    }

                    await Task.Delay(100, cancellationToken);
                }

                // A shared store takes each open reply's last tokens at the persister's next contact with it, and only
                // then may the log drop them: the probe waits for that. (What the GC would collect later, the probe's
                // forced compacting collections collect now.)
                await SettleAsync("the store holds every token the open streams delivered", holders => holders.GetProperty("logUnstoredBytes").GetDouble() == 0);
                results.Add(await ProbeAsync(level));
            }
        }
        finally
        {
            await hold.CancelAsync();
            await Task.WhenAll(open).ContinueWith(_ => { }, TaskScheduler.Default);
            File.Delete(probePath);
            File.Delete(trusted);
        }

        return results;

        // Polls the app's holders (no GC, cheap) until the condition holds; the bound only ends a run that would hang.
        async Task SettleAsync(string condition, Func<JsonElement, bool> settled)
        {
            var waiting = Stopwatch.StartNew();
            while (true)
            {
                var holders = await MemoryProbe.AskAsync(probePath, cancellationToken, holdersOnly: true);
                if (holders.TryGetProperty("holdersError", out _) || !holders.TryGetProperty("liveReplies", out _))
                {
                    throw new InvalidOperationException($"the memory probe cannot read the app's holders: {holders}");
                }

                if (settled(holders))
                {
                    return;
                }

                if (waiting.Elapsed > SettleBound)
                {
                    throw new InvalidOperationException($"not settled within {SettleBound.TotalSeconds} s ({condition}): {holders}");
                }

                await Task.Delay(SettlePoll, cancellationToken);
            }
        }

        async Task<MemoryProbeResult> ProbeAsync(int streams)
        {
            options.Progress?.Invoke($"memory: probe at {streams} open streams ...");
            var answer = await MemoryProbe.AskAsync(probePath, cancellationToken);
            var values = new Dictionary<string, double>();
            foreach (var property in answer.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.Number)
                {
                    values[property.Name] = property.Value.GetDouble();
                }
                else
                {
                    options.Progress?.Invoke($"memory:   {property.Name} = {property.Value}");
                }
            }

            var census = options.Census ? await Task.Run(() => HeapCensus.Take(app.ProcessId, Path.Combine(Path.GetTempPath(), $"chat-bench-{Environment.ProcessId}-{streams}.dmp")), cancellationToken) : null;
            var result = new MemoryProbeResult(streams, values, census);
            options.Progress?.Invoke($"memory:   RSS {values["rssAfterGc"] / 1048576:F1} MiB, heap {values["heapSize"] / 1048576:F1} MiB, committed {values["committed"] / 1048576:F1} MiB");
            return result;
        }
    }

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, its own root.</summary>
    public static X509Certificate2 LoopbackCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>Reads one stream until it has delivered <paramref name="tokens"/> chunks, then holds it open.</summary>
    private static async Task HoldAsync(HttpClient client, string message, int tokens, Action reachedTokens, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new { message });
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/chat/stream") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var chunks = 0;
            await foreach (var item in SseParser.Create(stream, static (_, data) => StreamClient.ParseRelay(data)).EnumerateAsync(cancellationToken))
            {
                if (item.Data.Kind == FrameKind.Chunk && ++chunks == tokens)
                {
                    reachedTokens();
                }
                else if (item.Data.Kind is FrameKind.Done or FrameKind.Error)
                {
                    throw new InvalidOperationException($"a held stream ended after {chunks} chunks ({item.Data.Kind})");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Per stream between consecutive probes (and from the baseline), then the census by type.</summary>
    public static string Table(IReadOnlyList<MemoryProbeResult> probes)
    {
        (string Label, string Key)[] rows =
        [
            ("RSS before the probe's GC", "rssBeforeGc"),
            ("RSS after a full compacting GC", "rssAfterGc"),
            ("GC committed", "committed"),
            ("managed heap after full GC (HeapSizeBytes)", "heapSize"),
            ("  of which gen2 (SOH)", "gen2"),
            ("  of which LOH", "loh"),
            ("  of which POH (Kestrel's pinned block pool, socket buffers)", "poh"),
            ("StreamLog segments held (capacity)", "logSegmentBytes"),
            ("  StreamLog bytes in them", "logUsedBytes"),
            ("in-memory store buffers (capacity)", "storeBufferBytes"),
            ("  in-memory store bytes", "storeUsedBytes"),
            ("threads", "threads"),
            ("active timers", "timers"),
        ];
        var text = new StringBuilder();
        text.Append("| per open stream (KiB; threads and timers: count) |");
        for (var i = 1; i < probes.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $" {probes[i - 1].Streams} → {probes[i].Streams} |");
        }

        text.Append(CultureInfo.InvariantCulture, $" 0 → {probes[^1].Streams} |\n|---|");
        text.Append(string.Concat(Enumerable.Repeat("---:|", probes.Count)));
        text.Append('\n');
        foreach (var (label, key) in rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {label} |");
            for (var i = 1; i < probes.Count; i++)
            {
                text.Append(' ').Append(PerStream(probes[i - 1], probes[i], key)).Append(" |");
            }

            text.Append(' ').Append(PerStream(probes[0], probes[^1], key)).Append(" |\n");
        }

        if (probes.Count >= 2 && probes[^1].Census is { } last && probes[^2].Census is { } before)
        {
            var added = probes[^1].Streams - probes[^2].Streams;
            text.Append(CultureInfo.InvariantCulture, $"\nLive objects by type (a heap dump read with ClrMD), per stream from {probes[^2].Streams} to {probes[^1].Streams} open streams:\n\n");
            CensusTable(text, before.ByType, last.ByType, added, 40);
            text.Append("\nByte arrays by the type of the object holding them, per stream:\n\n");
            CensusTable(text, before.ByteArraysByHolder, last.ByteArraysByHolder, added, 20);
        }

        return text.ToString();

    }

    private static void CensusTable(StringBuilder text, IReadOnlyDictionary<string, (long Bytes, long Count)> from, IReadOnlyDictionary<string, (long Bytes, long Count)> to, int added, int top)
    {
        text.Append("| type | bytes / stream | objects / stream |\n|---|---:|---:|\n");
        var rows = to.Keys.Union(from.Keys)
            .Select(t => (Type: t, Bytes: Get(to, t).Bytes - Get(from, t).Bytes, Count: Get(to, t).Count - Get(from, t).Count))
            .OrderByDescending(t => t.Bytes).ToList();
        foreach (var (type, bytes, count) in rows.Take(top))
        {
            text.Append(CultureInfo.InvariantCulture, $"| `{type.Replace("|", "\\|", StringComparison.Ordinal)}` | {(double)bytes / added:F0} | {(double)count / added:F2} |\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"| everything | {(double)rows.Sum(t => t.Bytes) / added:F0} | {(double)rows.Sum(t => t.Count) / added:F1} |\n");

        static (long Bytes, long Count) Get(IReadOnlyDictionary<string, (long Bytes, long Count)> census, string type) => census.TryGetValue(type, out var v) ? v : (0, 0);
    }

    private static string PerStream(MemoryProbeResult from, MemoryProbeResult to, string key)
    {
        if (!from.Values.TryGetValue(key, out var a) || !to.Values.TryGetValue(key, out var b) || to.Streams == from.Streams)
        {
            return "-";
        }

        var perStream = (b - a) / (to.Streams - from.Streams);
        return key is "threads" or "timers" ? perStream.ToString("F2", CultureInfo.InvariantCulture) : (perStream / 1024).ToString("F1", CultureInfo.InvariantCulture);
    }
}
