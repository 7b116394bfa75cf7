using ChatFunctions.Bench;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Resumption;

/// <summary>A seconds-long run of the stream log storage benchmark (docs/benchmarks.md) on the shared Azurite, so it keeps working.</summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Bench")]
public sealed class StorageBenchSmokeTests(AzuriteServer azurite)
{
    [Fact]
    public void A_reply_is_cut_into_one_contiguous_batch_per_flush_interval()
    {
        var batches = StorageBench.Batches(StreamLogStoreIds.New(), new StorageBenchOptions { Tokens = 1_000, TokensPerSecond = 50, FlushMilliseconds = 250 });

        Assert.Equal(80, batches.Count);
        Assert.Equal(1, batches[0].FirstSeq);
        Assert.Equal(1_002, batches[^1].LastSeq);
        for (var i = 1; i < batches.Count; i++)
        {
            Assert.Equal(batches[i - 1].LastSeq + 1, batches[i].FirstSeq);
            Assert.Equal(batches[i - 1].Offset + batches[i - 1].Bytes.Length, batches[i].Offset);
        }
    }

    [Fact]
    public async Task A_tiny_run_writes_one_request_per_batch_and_reads_each_log_back_exactly_in_one_request()
    {
        var result = await StorageBench.RunAsync(new StorageBenchOptions
        {
            Replies = 2,
            Tokens = 40,
            TokensPerSecond = 40,
            FlushMilliseconds = 250,
            ConnectionString = azurite.ConnectionString(),
        });

        Assert.Equal(4, result.BatchesPerReply);
        Assert.Equal(2, result.Backends.Count);
        foreach (var backend in result.Backends)
        {
            Assert.Equal(1 + result.BatchesPerReply, backend.WriteTransactionsPerReply);
            Assert.Equal(1, backend.WholeReadTransactions);
            Assert.Equal(1, backend.TailReadTransactions);
            Assert.Equal(2 * result.BatchesPerReply, backend.AppendMs.Count);
            // Each append is a round trip to Azurite: timed, it takes some time (a p50 of 0 would mean untimed).
            Assert.True(backend.AppendMs.P50 > 0, $"{backend.Backend}: append p50 {backend.AppendMs.P50} ms");
        }

        var table = StorageBench.Table(result, new StoragePrices(0.05, 0.004, 0.00036, "test prices"));
        Assert.Contains("5,000,000 write transactions", table, StringComparison.Ordinal);
    }
}
