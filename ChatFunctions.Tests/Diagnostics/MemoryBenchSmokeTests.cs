using ChatFunctions.Bench;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.Diagnostics;

/// <summary>
/// A seconds-long run of `bench --memory` with tiny parameters, so it keeps working: the app out of process (the
/// probe is a startup hook), streams held open mid-reply, a heap census read with ClrMD.
/// </summary>
[Trait("Category", "Bench")]
public sealed class MemoryBenchSmokeTests
{
    [Fact]
    public async Task A_tiny_run_probes_the_app_with_streams_held_open_and_counts_their_logs_on_the_heap()
    {
        // The app built in the same configuration as these tests: ChatFunctions.Tests/bin/<configuration>/net10.0.
        var appDll = RepoFiles.AppBuildOutput("ChatFunctions.dll");
        Assert.True(File.Exists(appDll), $"build the solution first: {appDll} is missing");

        var probes = await MemoryBench.RunAsync(new MemoryBenchOptions
        {
            Levels = [3],
            Tokens = 5,
            TokensPerSecond = 50,
            AppDll = appDll,
            Census = true,
        }, CancellationToken.None);

        Assert.Equal([0, 3], probes.Select(p => p.Streams));
        var (idle, open) = (probes[0], probes[1]);
        Assert.True(open.Values["heapSize"] > 0 && open.Values["rssAfterGc"] > open.Values["heapSize"]);
        // The warm-up's replies finished and left memory for the in-memory store; the held ones are live, with no copy there.
        Assert.Equal(0, idle.Values["liveReplies"]);
        Assert.Equal(20, idle.Values["storeLogs"]);
        Assert.Equal(3, open.Values["liveReplies"]);
        Assert.InRange(open.Values["logUsedBytes"], 3 * 5 * 20, open.Values["logSegmentBytes"]);
        Assert.Equal(idle.Values["storeUsedBytes"], open.Values["storeUsedBytes"]);

        Assert.Equal(3, open.Census!.ByType["ChatFunctions.Streaming.StreamLog"].Count - idle.Census!.ByType.GetValueOrDefault("ChatFunctions.Streaming.StreamLog").Count);
        Assert.True(open.Census.ByteArraysByHolder["ChatFunctions.Streaming.StreamLog+Segment"].Bytes >= 3 * 2048);
        Assert.Contains("| StreamLog segments held (capacity) |", MemoryBench.Table(probes), StringComparison.Ordinal);
    }
}
