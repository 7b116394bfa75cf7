using ChatFunctions.Bench;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Budgets;

/// <summary>
/// A seconds-long run of the spend-control benchmark (bench/ChatFunctions.Bench --budget) on the shared Azurite, the
/// two instances in this process, so it keeps working. The real run (1,000 requests) is not a test.
/// </summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Bench")]
public sealed class BudgetBenchSmokeTests(AzuriteServer azurite)
{
    [Fact]
    public async Task A_tiny_run_stays_within_the_budget_and_the_table_equals_the_done_frames()
    {
        // Each request reserves about 36 input + 100 output tokens and spends 21 + 20: 3,000 admits about 22 at once.
        var result = await BudgetBench.RunAsync(new BudgetBenchOptions
        {
            Requests = 60,
            Budget = 3_000,
            MaxOutputTokens = 100,
            ReplyTokens = 20,
            AppDll = null,
            Azurite = (azurite.BlobPort, azurite.TablePort),
            Timeout = TimeSpan.FromMinutes(2),
        });

        Assert.Equal(0, result.Other);
        Assert.InRange(result.Served, 1, 59);
        Assert.Equal(60 - result.Served, result.Refused);
        Assert.Equal(result.Served * 41L, result.DoneTokens);
        Assert.True(result.WithinBudget, BudgetBench.Table(result));
        Assert.True(result.NothingLost, BudgetBench.Table(result));
        Assert.Contains("| 60 | 3,000 | 100 |", BudgetBench.Table(result), StringComparison.Ordinal);
    }
}
