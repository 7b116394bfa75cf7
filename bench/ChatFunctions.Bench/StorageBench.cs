using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using ChatFunctions.Resumption;

namespace ChatFunctions.Bench;

public sealed record StorageBenchOptions
{
    public int Replies { get; init; } = 20;
    public int Tokens { get; init; } = 1_000;
    public double TokensPerSecond { get; init; } = 50;
    public int FlushMilliseconds { get; init; } = 250;
    public int TailFrames { get; init; } = 10;

    /// <summary>A storage connection string; null starts Azurite (scripts/azurite.sh) on free ports for the run.</summary>
    public string? ConnectionString { get; init; }

    public Action<string> Progress { get; init; } = _ => { };
}

public sealed record LatencyStats(int Count, double P50, double P95, double Max)
{
    public static LatencyStats Of(IReadOnlyList<double> samples)
    {
        var sorted = samples.Order().ToArray();
        double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new LatencyStats(sorted.Length, At(0.50), At(0.95), sorted.Length == 0 ? double.NaN : sorted[^1]);
    }
}

public sealed record StorageBackendResult(
    string Backend,
    double WriteTransactionsPerReply,
    double BytesPerReply,
    LatencyStats AppendMs,
    double StoreMsPerReply,
    double WholeReadTransactions,
    LatencyStats WholeReadMs,
    double TailReadTransactions,
    LatencyStats TailReadMs);

public sealed record StorageBenchResult(StorageBenchOptions Options, int BatchesPerReply, IReadOnlyList<StorageBackendResult> Backends);

/// <summary>
/// Stream logs on Azurite: the app's <see cref="BlobStreamLogStore"/> (append blobs) against Azure Tables (one entity
/// per flushed batch, RowKey = byte offset so a retried insert conflicts instead of doubling). A reply of N tokens at
/// R tokens/s is cut into the batches a producer flushing every F ms would write; every request that reaches the
/// service is counted (retries included), since each one is a billed transaction.
/// </summary>
public static class StorageBench
{
    private static readonly string[] Words = ["The", " stream", " log", " keeps", " every", " frame", ",", " so", " a", " resume", " replays", " exact", " bytes", ".", "\\n", " 🌍"];

    public static async Task<StorageBenchResult> RunAsync(StorageBenchOptions options, CancellationToken cancellationToken = default)
    {
        await using var azurite = options.ConnectionString is null ? await AzuriteLauncher.StartAsync(options.Progress, cancellationToken) : null;
        var connectionString = options.ConnectionString ?? azurite!.ConnectionString;

        var blobCounter = new RequestCounter();
        var blobOptions = BlobStreamLogStore.CreateClientOptions();
        blobOptions.AddPolicy(blobCounter, HttpPipelinePosition.PerRetry);
        var blobStore = new BlobStreamLogStore(new BlobServiceClient(connectionString, blobOptions), TimeProvider.System);

        var tableCounter = new RequestCounter();
        var tableOptions = new TableClientOptions();
        tableOptions.Retry.MaxRetries = 2;
        tableOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(3);
        tableOptions.AddPolicy(tableCounter, HttpPipelinePosition.PerRetry);
        var table = new TableServiceClient(connectionString, tableOptions).GetTableClient("chatstreamsbench");
        await table.CreateIfNotExistsAsync(cancellationToken);

        // Warm both (container creation, connections, JIT) outside the measurement.
        var warm = StreamLogStoreIds.New();
        await blobStore.CreateAsync(warm, null, cancellationToken);
        await TableLog.CreateAsync(table, StreamLogStoreIds.New(), cancellationToken);

        var batchesPerReply = Batches(StreamLogStoreIds.New(), options).Count;
        var blob = await MeasureAsync("Append blob (BlobStreamLogStore)", blobCounter, options, new BlobBackend(blobStore), cancellationToken);
        var tables = await MeasureAsync("Azure Tables (entity per batch)", tableCounter, options, new TableBackend(table), cancellationToken);
        return new StorageBenchResult(options, batchesPerReply, [blob, tables]);
    }

    /// <summary>One reply's frames as the producer would flush them: meta, the tokens, done; one batch per flush interval.</summary>
    public static List<Batch> Batches(string streamId, StorageBenchOptions options)
    {
        var frames = new List<(int Seq, double AtMs, byte[] Bytes)>
        {
            (1, 0, Encoding.UTF8.GetBytes($"id: {streamId}:1\ndata: {{\"meta\":{{\"requestId\":\"0HN8BENCH\",\"streamId\":\"{streamId}\",\"provider\":\"azure-openai\",\"model\":\"chat\"}}}}\n\n")),
        };
        for (var i = 0; i < options.Tokens; i++)
        {
            var seq = i + 2;
            frames.Add((seq, i * 1000 / options.TokensPerSecond, Encoding.UTF8.GetBytes($"id: {streamId}:{seq}\ndata: {{\"chunk\":\"{Words[i % Words.Length]}\"}}\n\n")));
        }

        var end = options.Tokens * 1000 / options.TokensPerSecond;
        frames.Add((options.Tokens + 2, end, Encoding.UTF8.GetBytes($"id: {streamId}:{options.Tokens + 2}\ndata: {{\"done\":true,\"finishReason\":\"stop\"}}\n\n")));

        var batches = new List<Batch>();
        long offset = 0;
        foreach (var group in frames.GroupBy(f => Math.Min((int)(f.AtMs / options.FlushMilliseconds), (int)(end / options.FlushMilliseconds) - 1)))
        {
            var bytes = group.SelectMany(f => f.Bytes).ToArray();
            batches.Add(new Batch(offset, group.First().Seq, group.Last().Seq, bytes));
            offset += bytes.Length;
        }

        return batches;
    }

    private static async Task<StorageBackendResult> MeasureAsync(string name, RequestCounter counter, StorageBenchOptions options, IBackend backend, CancellationToken cancellationToken)
    {
        options.Progress($"{name}: writing {options.Replies} replies of {options.Tokens} tokens ...");
        var appendMs = new List<double>();
        var replies = new List<(string Id, List<Batch> Batches)>();
        var writeRequests = 0L;
        var storeMs = 0.0;
        for (var r = 0; r < options.Replies; r++)
        {
            var id = StreamLogStoreIds.New();
            var batches = Batches(id, options);
            var before = counter.Count;
            var clock = Stopwatch.StartNew();
            await backend.CreateAsync(id, cancellationToken);
            foreach (var batch in batches)
            {
                var one = Stopwatch.StartNew();
                await backend.AppendAsync(id, batch, cancellationToken);
                appendMs.Add(one.Elapsed.TotalMilliseconds);
            }

            storeMs += clock.Elapsed.TotalMilliseconds;
            writeRequests += counter.Count - before;
            replies.Add((id, batches));
        }

        options.Progress($"{name}: reading them back ...");
        var wholeMs = new List<double>();
        var tailMs = new List<double>();
        long wholeRequests = 0, tailRequests = 0;
        foreach (var (id, batches) in replies)
        {
            byte[] all = [.. batches.SelectMany(b => b.Bytes)];
            var tailFrom = options.Tokens + 2 - options.TailFrames + 1;
            var tailOffset = OffsetOfFrame(all, id, tailFrom);

            var before = counter.Count;
            var clock = Stopwatch.StartNew();
            var whole = await backend.ReadAllAsync(id, cancellationToken);
            wholeMs.Add(clock.Elapsed.TotalMilliseconds);
            wholeRequests += counter.Count - before;
            Check(whole.AsSpan().SequenceEqual(all), name, "whole log");

            before = counter.Count;
            clock.Restart();
            var tail = await backend.ReadTailAsync(id, tailFrom, tailOffset, cancellationToken);
            tailMs.Add(clock.Elapsed.TotalMilliseconds);
            tailRequests += counter.Count - before;
            Check(tail.AsSpan().SequenceEqual(all.AsSpan((int)tailOffset)), name, "tail");
        }

        return new StorageBackendResult(
            name,
            (double)writeRequests / options.Replies,
            replies.Average(r => r.Batches.Sum(b => b.Bytes.Length)),
            LatencyStats.Of(appendMs),
            storeMs / options.Replies,
            (double)wholeRequests / options.Replies,
            LatencyStats.Of(wholeMs),
            (double)tailRequests / options.Replies,
            LatencyStats.Of(tailMs));
    }

    private static long OffsetOfFrame(byte[] log, string streamId, int seq)
    {
        var marker = Encoding.UTF8.GetBytes($"id: {streamId}:{seq}\n");
        var at = log.AsSpan().IndexOf(marker);
        return at >= 0 ? at : throw new InvalidOperationException($"frame {seq} not in the log");
    }

    private static void Check(bool ok, string backend, string what)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"{backend}: the {what} read back differs from what was written.");
        }
    }

    public static string Table(StorageBenchResult result, StoragePrices prices)
    {
        var o = result.Options;
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{o.Replies} replies × {o.Tokens} tokens at {o.TokensPerSecond} tokens/s, flushed every {o.FlushMilliseconds} ms = {result.BatchesPerReply} batches per reply; last {o.TailFrames} frames for the tail read.");
        sb.AppendLine();
        sb.AppendLine("| backend | write requests / reply | bytes / reply | append p50 / p95 / max (ms) | store time / reply (ms) | whole-log read: requests, p50 / p95 (ms) | last-frames read: requests, p50 / p95 (ms) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var b in result.Backends)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {b.Backend} | {b.WriteTransactionsPerReply:0.#} | {b.BytesPerReply:N0} | {b.AppendMs.P50:0.0} / {b.AppendMs.P95:0.0} / {b.AppendMs.Max:0.0} | {b.StoreMsPerReply:N0} | {b.WholeReadTransactions:0.#}, {b.WholeReadMs.P50:0.0} / {b.WholeReadMs.P95:0.0} | {b.TailReadTransactions:0.#}, {b.TailReadMs.P50:0.0} / {b.TailReadMs.P95:0.0} |");
        }

        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Monthly cost of the writes for 1,000,000 replies ({prices.Source}):");
        sb.AppendLine();
        foreach (var b in result.Backends)
        {
            var perTenThousand = b.Backend.StartsWith("Append blob", StringComparison.Ordinal) ? prices.BlobWritePer10K : prices.TablePer10K;
            var cost = b.WriteTransactionsPerReply * 1_000_000 / 10_000 * perTenThousand;
            sb.AppendLine(CultureInfo.InvariantCulture, $"- {b.Backend}: {b.WriteTransactionsPerReply * 1_000_000:N0} write transactions × ${perTenThousand} per 10,000 = **${cost:N2}**");
        }

        return sb.ToString();
    }

    public sealed record Batch(long Offset, int FirstSeq, int LastSeq, byte[] Bytes);

    private interface IBackend
    {
        Task CreateAsync(string id, CancellationToken cancellationToken);

        Task AppendAsync(string id, Batch batch, CancellationToken cancellationToken);

        Task<byte[]> ReadAllAsync(string id, CancellationToken cancellationToken);

        /// <summary>From frame <paramref name="fromSeq"/> on; a blob reader that follows a log knows its byte offset.</summary>
        Task<byte[]> ReadTailAsync(string id, int fromSeq, long offset, CancellationToken cancellationToken);
    }

    private sealed class BlobBackend(BlobStreamLogStore store) : IBackend
    {
        public Task CreateAsync(string id, CancellationToken cancellationToken) => store.CreateAsync(id, "owner-hash", cancellationToken);

        public Task AppendAsync(string id, Batch batch, CancellationToken cancellationToken) => store.AppendAsync(id, batch.Offset, batch.Bytes, null, cancellationToken);

        public async Task<byte[]> ReadAllAsync(string id, CancellationToken cancellationToken) => (await store.ReadAsync(id, 0, cancellationToken))!.Bytes.ToArray();

        public async Task<byte[]> ReadTailAsync(string id, int fromSeq, long offset, CancellationToken cancellationToken) =>
            (await store.ReadAsync(id, offset, cancellationToken))!.Bytes.ToArray();
    }

    private sealed class TableBackend(TableClient table) : IBackend
    {
        public Task CreateAsync(string id, CancellationToken cancellationToken) => TableLog.CreateAsync(table, id, cancellationToken);

        public async Task AppendAsync(string id, Batch batch, CancellationToken cancellationToken)
        {
            var entity = new TableEntity(id, TableLog.ChunkKey(batch.Offset))
            {
                ["Bytes"] = batch.Bytes,
                ["FirstSeq"] = batch.FirstSeq,
                ["LastSeq"] = batch.LastSeq,
            };
            try
            {
                await table.AddEntityAsync(entity, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                // The same offset again: a retry of an insert that succeeded.
            }
        }

        public async Task<byte[]> ReadAllAsync(string id, CancellationToken cancellationToken)
        {
            using var bytes = new MemoryStream();
            await foreach (var chunk in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {id} and RowKey ge {"c"} and RowKey lt {"d"}"), cancellationToken: cancellationToken))
            {
                bytes.Write(chunk.GetBinary("Bytes"));
            }

            return bytes.ToArray();
        }

        public async Task<byte[]> ReadTailAsync(string id, int fromSeq, long offset, CancellationToken cancellationToken)
        {
            using var bytes = new MemoryStream();
            await foreach (var chunk in table.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey eq {id} and RowKey ge {"c"} and RowKey lt {"d"} and LastSeq ge {fromSeq}"), cancellationToken: cancellationToken))
            {
                bytes.Write(chunk.GetBinary("Bytes"));
            }

            // The first chunk may start with earlier frames: cut at the frame asked for (the reader would scan for its id line).
            var all = bytes.ToArray();
            var at = all.AsSpan().IndexOf(Encoding.UTF8.GetBytes($"id: {id}:{fromSeq}\n"));
            return all[at..];
        }
    }

    private static class TableLog
    {
        public static Task CreateAsync(TableClient table, string id, CancellationToken cancellationToken) =>
            table.AddEntityAsync(new TableEntity(id, "state") { ["CreatedAt"] = DateTimeOffset.UtcNow, ["Owner"] = "owner-hash" }, cancellationToken);

        public static string ChunkKey(long offset) => "c" + offset.ToString("D12", CultureInfo.InvariantCulture);
    }

    /// <summary>Counts every request the pipeline sends, each retry included: what the service bills.</summary>
    private sealed class RequestCounter : HttpPipelineSynchronousPolicy
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public override void OnSendingRequest(HttpMessage message) => Interlocked.Increment(ref _count);
    }
}

/// <summary>List prices per 10,000 transactions used for the monthly figure, and where they came from.</summary>
public sealed record StoragePrices(double BlobWritePer10K, double BlobReadPer10K, double TablePer10K, string Source);

/// <summary>Stream ids as the app makes them: 16 random bytes, base64url, 22 characters.</summary>
public static class StreamLogStoreIds
{
    public static string New() => System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}

/// <summary>Azurite from scripts/azurite.sh (installed into .tools/ on first use) on free loopback ports, for one run.</summary>
public sealed class AzuriteLauncher : IAsyncDisposable
{
    private const string Account = "devstoreaccount1";
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _process;
    private readonly string _dataDirectory;

    private AzuriteLauncher(Process process, string dataDirectory, int blobPort, int tablePort)
    {
        _process = process;
        _dataDirectory = dataDirectory;
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};" +
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/{Account};TableEndpoint=http://127.0.0.1:{tablePort}/{Account};";
    }

    public string ConnectionString { get; }

    public static async Task<AzuriteLauncher> StartAsync(Action<string> progress, CancellationToken cancellationToken)
    {
        var root = FindRoot();
        var script = Path.Combine(root, "scripts", "azurite.sh");
        progress("starting Azurite (scripts/azurite.sh) ...");
        using (var install = Process.Start(new ProcessStartInfo("bash", [script, "--install"]) { WorkingDirectory = root, RedirectStandardOutput = true })!)
        {
            await install.WaitForExitAsync(cancellationToken);
            if (install.ExitCode != 0)
            {
                throw new InvalidOperationException("scripts/azurite.sh --install failed.");
            }
        }

        var ports = FreePorts(3);
        var data = Directory.CreateTempSubdirectory("azurite-bench-").FullName;
        var start = new ProcessStartInfo("bash",
        [
            script, "--blob-port", ports[0].ToString(CultureInfo.InvariantCulture), "--queue-port", ports[1].ToString(CultureInfo.InvariantCulture),
            "--table-port", ports[2].ToString(CultureInfo.InvariantCulture), "--location", data, "--", "--silent",
        ])
        { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var launcher = new AzuriteLauncher(process, data, ports[0], ports[2]);
        var deadline = Stopwatch.StartNew();
        foreach (var port in new[] { ports[0], ports[2] })
        {
            while (true)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                    break;
                }
                catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
                {
                    await Task.Delay(100, cancellationToken);
                }
            }
        }

        return launcher;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "scripts", "azurite.sh")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("scripts/azurite.sh not found above this program or the current folder; pass --connection-string.");
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
