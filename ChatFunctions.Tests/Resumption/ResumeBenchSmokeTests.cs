using ChatFunctions.Bench;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// A seconds-long run of the resumable-streams benchmark (bench/ChatFunctions.Bench --resume) with tiny parameters on
/// the shared Azurite, apps in this process, so it keeps working. The real run is minutes long and not a test.
/// </summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Bench")]
public sealed class ResumeBenchSmokeTests(AzuriteServer azurite)
{
    [Fact]
    public async Task A_tiny_run_measures_persistence_off_and_on_counts_storage_requests_and_resumes_on_a_second_instance_in_rounds()
    {
        var result = await ResumeBench.RunAsync(new ResumeBenchOptions
        {
            Levels = [3],
            Tokens = 12,
            TokensPerSecond = 40,
            ResumedStreams = 2,
            ResumeRounds = 2,
            CostReplies = 0,
            AppDll = null,
            Azurite = (azurite.BlobPort, azurite.TablePort),
            LevelTimeout = TimeSpan.FromSeconds(60),
        });

        Assert.Equal(["off", "on"], result.Levels.Select(l => l.Persistence));
        foreach (var level in result.Levels)
        {
            Assert.Equal(3, level.Streams);
            Assert.Equal(36, level.Sweep.TokensReceived);
            Assert.Equal(0, level.Sweep.LostFrames);
            Assert.Equal(0, level.Sweep.FailedStreams);
        }

        var on = result.Levels[1];
        // A 0.3 s reply: one create and one or two appends at least; never one append per token.
        Assert.InRange(on.TransactionsPerReply!.Value, 2, 12);
        Assert.True(on.TransactionsByKind!.GetValueOrDefault("append") >= 1, ResumeBench.Describe(on.TransactionsByKind!));
        Assert.Equal(0, on.ResumeFailures);
        // Two rounds of two resumes each, all nine frames after the third of each 12-token reply: a second reader on B.
        Assert.InRange(on.ResumeDelayMs!.Count, 2 * 2 * 9, 2 * 2 * 12);
        // After a drop, B is measured against the model's send time of the tokens sent after the resume began.
        Assert.True(on.DroppedResumeDelayMs!.Count > 0, "no token was measured after a drop");
        Assert.True(on.DroppedResumeDelayMs.P50 > 0, $"B delivered before the model sent: {on.DroppedResumeDelayMs.P50} ms");
        Assert.Contains("| 3 | on |", ResumeBench.Table(result), StringComparison.Ordinal);
    }
}
