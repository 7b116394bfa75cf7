using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using FakeAzureOpenAI;

namespace ChatFunctions.Bench;

/// <summary>What to run: N concurrent requests of one caller, split across two app instances sharing one storage account.</summary>
public sealed record BudgetBenchOptions
{
    public int Requests { get; init; } = 1_000;

    /// <summary>CHAT_TOKEN_BUDGET_PER_DAY for the run.</summary>
    public long Budget { get; init; } = 100_000;

    /// <summary>CHAT_MAX_OUTPUT_TOKENS: the output part of each reservation.</summary>
    public int MaxOutputTokens { get; init; } = 1_024;

    /// <summary>Tokens in each fake reply (its usage adds 21 prompt tokens).</summary>
    public int ReplyTokens { get; init; } = 200;

    /// <summary>The app as a process (Release DLL) or, null, in this process.</summary>
    public string? AppDll { get; init; }

    /// <summary>An Azurite already running (blob and table ports); null starts one.</summary>
    public (int Blob, int Table)? Azurite { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public Action<string> Progress { get; init; } = _ => { };
}

/// <param name="Served">Requests answered 200 with a done frame.</param>
/// <param name="Refused">Requests answered 429 (budget).</param>
/// <param name="Other">Any other answer, or a stream without a done frame (a failure of the run).</param>
/// <param name="DoneTokens">Sum of the done frames' usage.totalTokens.</param>
/// <param name="TableTokens">The caller's row in chatbudgets once every reply has settled.</param>
/// <param name="SettledAfterMs">From the last done frame until the row equalled the done frames (0: at once).</param>
public sealed record BudgetBenchResult(
    int Requests, long Budget, int MaxOutputTokens, int Served, int Refused, int Other, long DoneTokens, long TableTokens,
    double SettledAfterMs, double ElapsedSeconds, double RequestsPerSecond)
{
    public bool WithinBudget => TableTokens <= Budget && DoneTokens <= Budget;

    public bool NothingLost => TableTokens == DoneTokens;
}

/// <summary>
/// Spend control under contention (docs/benchmarks.md, "Budgets under concurrency"): one caller sends
/// <see cref="BudgetBenchOptions.Requests"/> requests at once, half to each of two app instances that share one
/// Azurite, and the run checks that the total stays within the budget and that the table holds exactly what the
/// done frames report.
/// </summary>
public static class BudgetBench
{
    public static async Task<BudgetBenchResult> RunAsync(BudgetBenchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var azurite = options.Azurite is null ? await ResumeBench.AzuriteProcess.StartAsync(cancellationToken) : null;
        var (blobPort, tablePort) = options.Azurite ?? (azurite!.BlobPort, azurite.TablePort);
        var storage = ResumeBench.ConnectionString(blobPort, tablePort);
        await using var fake = await FakeAzureOpenAIServer.StartAsync(cancellationToken: cancellationToken);
        fake.DefaultScript = new FakeScript { Tokens = [.. Enumerable.Range(0, options.ReplyTokens).Select(i => $"t{i} ")] };

        // One caller, named through a trusted proxy: a fresh address per run, so runs on one Azurite do not share a row.
        var address = $"198.18.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(1, 255)}";
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = storage,
            ["CHAT_TOKEN_BUDGET_PER_DAY"] = options.Budget.ToString(CultureInfo.InvariantCulture),
            ["CHAT_MAX_OUTPUT_TOKENS"] = options.MaxOutputTokens.ToString(CultureInfo.InvariantCulture),
            ["CHAT_TRUSTED_PROXIES"] = "127.0.0.1",
        };
        options.Progress($"budget: {options.Requests} requests of one caller over two instances, budget {options.Budget:N0}, output limit {options.MaxOutputTokens:N0} ...");
        await using var a = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll, environment, cancellationToken);
        await using var b = await AppUnderTest.StartAsync(fake.Endpoint, options.AppDll, environment, cancellationToken);
        using var clientA = StreamClient.CreateHttpClient(a.BaseAddress);
        using var clientB = StreamClient.CreateHttpClient(b.BaseAddress);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);

        var clock = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, options.Requests).Select(i => SendAsync(i % 2 == 0 ? clientA : clientB, address, timeout.Token)));
        var elapsed = clock.Elapsed;

        var done = outcomes.Where(o => o.Status == 200 && o.Tokens is not null).Sum(o => o.Tokens!.Value);
        var table = new TableServiceClient(storage).GetTableClient(TableTokenBudget.TableName);
        var caller = CallerKey.ForAddress(address);
        var settle = Stopwatch.StartNew();
        var spent = await SpentAsync(table, caller, timeout.Token);
        // A done frame waits at most 2 s for its settlement: a slower one lands after it, within the settlement's bound.
        while (spent != done && settle.Elapsed < TableTokenBudget.ConflictDeadline + TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100, timeout.Token);
            spent = await SpentAsync(table, caller, timeout.Token);
        }

        var settledAfter = spent == done ? settle.Elapsed.TotalMilliseconds : double.NaN;
        return new BudgetBenchResult(
            options.Requests, options.Budget, options.MaxOutputTokens,
            Served: outcomes.Count(o => o.Status == 200 && o.Tokens is not null),
            Refused: outcomes.Count(o => o.Status == 429),
            Other: outcomes.Count(o => !(o.Status == 429 || (o.Status == 200 && o.Tokens is not null))),
            DoneTokens: done, TableTokens: spent, SettledAfterMs: settledAfter,
            ElapsedSeconds: elapsed.TotalSeconds, RequestsPerSecond: options.Requests / elapsed.TotalSeconds);
    }

    public static string Table(BudgetBenchResult r) => string.Create(CultureInfo.InvariantCulture, $"""
        | requests | budget | output limit | served | refused (429) | other | done frames' tokens | table's tokens | within budget | table = done | settled after | run |
        |---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|
        | {r.Requests:N0} | {r.Budget:N0} | {r.MaxOutputTokens:N0} | {r.Served:N0} | {r.Refused:N0} | {r.Other:N0} | {r.DoneTokens:N0} | {r.TableTokens:N0} | {(r.WithinBudget ? "yes" : "NO")} | {(r.NothingLost ? "yes" : "NO")} | {r.SettledAfterMs:F0} ms | {r.ElapsedSeconds:F1} s |
        """);

    private static async Task<(int Status, long? Tokens)> SendAsync(HttpClient client, string address, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat/stream")
        {
            Content = new StringContent("""{"message":"hi"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Forwarded-For", address);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return ((int)response.StatusCode, null);
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken))
            {
                using var json = JsonDocument.Parse(item.Data);
                if (json.RootElement.TryGetProperty("done", out _))
                {
                    return (200, json.RootElement.TryGetProperty("usage", out var usage) && usage.TryGetProperty("totalTokens", out var total) ? total.GetInt64() : 0);
                }
            }

            return (200, null);
        }
        catch (HttpRequestException)
        {
            return (0, null);
        }
    }

    private static async Task<long> SpentAsync(TableClient table, CallerKey caller, CancellationToken cancellationToken)
    {
        var day = BudgetDay.Of(DateTimeOffset.UtcNow);
        try
        {
            var row = await table.GetEntityIfExistsAsync<TableEntity>(day, BudgetDay.RowKey(day, caller), cancellationToken: cancellationToken);
            return row.HasValue ? row.Value!.GetInt64(TableTokenBudget.SpentProperty) ?? 0 : 0;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return 0;
        }
    }
}
