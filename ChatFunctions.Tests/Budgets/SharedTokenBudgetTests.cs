using System.Net;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
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
            ["CHAT_TOKEN_BUDGET_PER_DAY"] = "60",
        };
        await using var a = await AppProcess.StartAsync(settings);
        await using var b = await AppProcess.StartAsync(settings);

        // B spends a little, A spends the rest (the demo model reports 80 output tokens + the prompt).
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
        Assert.InRange(only.GetInt64("Spent")!.Value, 83, 200);
    }

    [Fact]
    public async Task Concurrent_increments_from_two_instances_lose_nothing()
    {
        var caller = CallerKey.ForUser("tenant", Guid.NewGuid().ToString());
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new TokenBudgetMetrics(meters.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        TableTokenBudget Instance() => new(
            new TableServiceClient(azurite.ConnectionString(), TableTokenBudget.ClientOptions()),
            Options.Create(new TokenBudgetOptions { TokensPerDay = 1_000 }), TimeProvider.System, metrics, NullLogger<TableTokenBudget>.Instance);
        var first = Instance();
        var second = Instance();

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? first : second).RecordAsync(caller, 3, default).AsTask()));

        var decision = await first.CheckAsync(caller, default);
        Assert.Equal(120, decision.Spent);
        Assert.True(decision.Allowed);
    }
}
