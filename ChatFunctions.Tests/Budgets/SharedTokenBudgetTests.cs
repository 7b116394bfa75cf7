using System.Net;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Budgets;

/// <summary>Budgets in Azure Tables (Azurite), shared by instances the way Flex Consumption scales out.</summary>
[Trait("Category", "Infrastructure")]
[Collection(UsesAzurite.Name)]
public sealed class SharedTokenBudgetTests(AzuriteServer azurite)
{
    [Fact]
    public async Task Spending_on_one_app_process_is_seen_by_another_sharing_the_storage()
    {
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString(),
            // Each request reserves about 35 input tokens + 100 output; B's and A's replies spend about 120 together,
            // after which a third's worst case no longer fits.
            ["CHAT_TOKEN_BUDGET_PER_DAY"] = "250",
            ["CHAT_MAX_OUTPUT_TOKENS"] = "100",
        };
        await using var a = await AppProcess.StartAsync(settings);
        await using var b = await AppProcess.StartAsync(settings);

        // B spends a little, A most of the rest (the demo model reports 80 output tokens + the prompt).
        SseClient.AssertWellFormed(await SseClient.ReadAllAsync(b.Client, SseClient.Post("hi [demo:tokens=3]")));
        SseClient.AssertWellFormed(await SseClient.ReadAllAsync(a.Client, SseClient.Post("hi [demo:tokens=80]")));
        using var onB = await b.Client.SendAsync(SseClient.Post("more"));
        using var onA = await a.Client.SendAsync(SseClient.Post("more"));

        Assert.Equal(HttpStatusCode.TooManyRequests, onB.StatusCode);
        Assert.Contains("\"budget\"", await onB.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, onA.StatusCode);
        Assert.Contains("table chatbudgets", a.Output, StringComparison.Ordinal);

        // One row for the one caller (both processes saw 127.0.0.1), its key a hash, its count what was spent. (Other
        // tests on this Azurite may add rows of their own callers; none may hold an address in clear.)
        var table = new TableServiceClient(azurite.ConnectionString()).GetTableClient(TableTokenBudget.TableName);
        var day = BudgetDay.Of(DateTimeOffset.UtcNow);
        var rows = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(e => e.PartitionKey == day))
        {
            rows.Add(row);
        }

        Assert.All(rows, row => Assert.DoesNotContain(row.Keys, key => row[key]?.ToString()?.Contains("127.0.0.1", StringComparison.Ordinal) == true));
        var only = Assert.Single(rows, row => row.RowKey == BudgetDay.RowKey(day, CallerKey.ForAddress("127.0.0.1")));
        Assert.Matches("^[0-9a-f]{64}$", only.RowKey);
        Assert.DoesNotContain(only.Keys, key => only[key]?.ToString()?.Contains("127.0.0.1", StringComparison.Ordinal) == true);
        // Settled to what the two replies spent (3 and 80 output tokens, about 18 input each), no reservation left.
        Assert.InRange(only.GetInt64("Spent")!.Value, 83, 140);
    }

    private TableTokenBudget Instance(long limit, TokenBudgetMetrics metrics, string? connectionString = null) => new(
        new TableServiceClient(connectionString ?? azurite.ConnectionString(), TableTokenBudget.ClientOptions()),
        Options.Create(new TokenBudgetOptions { TokensPerDay = limit }), TimeProvider.System, metrics, NullLogger<TableTokenBudget>.Instance);

    private static TokenBudgetMetrics Metrics(ServiceProvider meters) => new(meters.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    private async Task<long> SpentAsync(CallerKey caller)
    {
        var day = BudgetDay.Of(DateTimeOffset.UtcNow);
        var table = new TableServiceClient(azurite.ConnectionString()).GetTableClient(TableTokenBudget.TableName);
        var row = await table.GetEntityIfExistsAsync<TableEntity>(day, BudgetDay.RowKey(day, caller));
        return row.HasValue ? row.Value!.GetInt64(TableTokenBudget.SpentProperty) ?? 0 : 0;
    }

    [Fact]
    public async Task Concurrent_reservations_from_two_instances_admit_exactly_what_fits_and_settlements_lose_nothing()
    {
        var caller = CallerKey.ForUser("tenant", Guid.NewGuid().ToString());
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var first = Instance(1_000, Metrics(meters));
        var second = Instance(1_000, Metrics(meters));

        var reservations = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => (i % 2 == 0 ? first : second).ReserveAsync(caller, 30, default).AsTask()));
        var admitted = reservations.Where(r => r.Outcome == BudgetOutcome.Reserved).ToList();

        Assert.Equal(1_000 / 30, admitted.Count);
        Assert.All(reservations, r => Assert.NotEqual(BudgetOutcome.StoreUnavailable, r.Outcome));
        Assert.Equal(1_000 / 30 * 30, await SpentAsync(caller));

        // Each settles to a different real spend, all at once, from both instances.
        await Task.WhenAll(admitted.Select((r, i) => (i % 2 == 0 ? first : second).SettleAsync(r, i, default).AsTask()));
        Assert.Equal(Enumerable.Range(0, admitted.Count).Sum(), await SpentAsync(caller));
    }

    [Fact]
    public async Task A_wrong_storage_key_refuses_with_503_even_when_transient_errors_are_allowed()
    {
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var connection = azurite.ConnectionString().Replace(AzuriteServer.AccountKey, wrongKey, StringComparison.Ordinal);
        Assert.NotEqual(azurite.ConnectionString(), connection);
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var options = Options.Create(new TokenBudgetOptions { TokensPerDay = 50_000, TransientStoreErrors = TransientBudgetStorePolicy.Allow });
        var budget = new TableTokenBudget(new TableServiceClient(connection, TableTokenBudget.ClientOptions()), options, TimeProvider.System, Metrics(meters), NullLogger<TableTokenBudget>.Instance);
        var gate = new SpendGate(budget, new OpenReplies(options), options, Options.Create(new ChatServiceOptions()), TimeProvider.System, NullLogger<SpendGate>.Instance);

        var reservation = await budget.ReserveAsync(CallerKey.ForAddress("192.0.2.1"), 10, default);
        var admission = await gate.AdmitAsync(CallerKey.ForAddress("192.0.2.1"), new ChatRequest("hi", []), default);

        Assert.Equal(BudgetOutcome.StoreUnavailable, reservation.Outcome);
        Assert.Equal(BudgetStoreFailureKind.Permanent, reservation.Failure);
        Assert.Equal(RefusalKind.Unavailable, admission.Rejection!.Kind);
        Assert.Equal("budget", admission.Rejection.Field);
    }

    [Fact]
    public async Task Over_HTTP_a_wrong_storage_key_answers_503_with_a_title_that_names_the_budget()
    {
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString().Replace(AzuriteServer.AccountKey, Convert.ToBase64String(new byte[64]), StringComparison.Ordinal),
            ["CHAT_TOKEN_BUDGET_PER_DAY"] = "50000",
        };
        await using var app = await AppProcess.StartAsync(settings);

        using var response = await app.Client.SendAsync(SseClient.Post("hi"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var problem = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("The token budget cannot be checked.", problem["title"]!.GetValue<string>());
        Assert.NotNull(problem["errors"]!["budget"]);
        Assert.Contains("Token budget store failed during reserve (Permanent)", app.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_concurrent_requests_of_one_caller_on_two_instances_stay_within_the_budget_and_the_table_equals_the_done_frames()
    {
        // The bench (--budget) runs 1,000; here 120 keep the suite quick on a busy machine.
        const int Requests = 120;
        const long Budget = 6_000;
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString(),
            ["CHAT_TOKEN_BUDGET_PER_DAY"] = Budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CHAT_MAX_OUTPUT_TOKENS"] = "100",
            ["CHAT_MAX_OPEN_REPLIES_PER_CALLER"] = "0",
            ["DEMO_TOKEN_DELAY_MS"] = "0",
            // A caller of its own (other tests on this Azurite spend as 127.0.0.1 today), named through a trusted proxy.
            ["CHAT_TRUSTED_PROXIES"] = "127.0.0.1",
        };
        await using var a = await AppProcess.StartAsync(settings);
        await using var b = await AppProcess.StartAsync(settings);
        var address = $"198.51.100.{Random.Shared.Next(1, 255)}";
        var caller = CallerKey.ForAddress(address);
        var before = await SpentAsync(caller);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, Requests).Select(async i =>
        {
            var client = (i % 2 == 0 ? a : b).Client;
            using var request = SseClient.Post("hi [demo:tokens=60]");
            request.Headers.Add("X-Forwarded-For", address);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (Status: (int)response.StatusCode, Tokens: 0L);
            }

            var frames = new List<ReceivedFrame>();
            await foreach (var frame in SseClient.ReadFramesAsync(response))
            {
                frames.Add(frame);
            }

            var done = frames.Single(f => f.IsDone);
            return (Status: 200, Tokens: done.Data["usage"]!["totalTokens"]!.GetValue<long>());
        }));

        var served = outcomes.Count(o => o.Status == 200);
        Assert.All(outcomes, o => Assert.Contains(o.Status, new[] { 200, 429 }));
        Assert.InRange(served, 1, Requests - 1); // the budget ran out part-way: the race is real

        // A done frame waits at most 2 s for its settlement; on a busy machine some land after it. They land within
        // the settlement's own bound (its conflict deadline) plus an allowance for the machine: poll until then.
        var expected = outcomes.Sum(o => o.Tokens);
        var until = DateTime.UtcNow + TableTokenBudget.ConflictDeadline + TimeSpan.FromSeconds(30);
        var spent = await SpentAsync(caller) - before;
        while (spent != expected && DateTime.UtcNow < until)
        {
            await Task.Delay(Poll.RequestInterval);
            spent = await SpentAsync(caller) - before;
        }

        Assert.Equal(expected, spent);
        Assert.InRange(spent, 1, Budget);
    }
}
