using System.Runtime.CompilerServices;
using ChatFunctions.Bench;

namespace ChatFunctions.Tests.Diagnostics;

/// <summary>
/// `bench --gc-trace`'s reader, on this process: an EventPipe session through the diagnostics port, allocations
/// attributed to their type and stack, and the collections and pauses counted.
/// </summary>
[Trait("Category", "Bench")]
public sealed class GcTraceSmokeTests
{
    private static readonly List<byte[]> Kept = [];

    [Fact]
    public async Task A_trace_finds_what_was_allocated_where_and_the_collections_that_followed()
    {
        var trace = GcTrace.Start(Environment.ProcessId, Path.Combine(Path.GetTempPath(), $"gc-trace-test-{Guid.NewGuid():N}.nettrace"));
        // Enough that other tests running meanwhile cannot outweigh it.
        AllocateKilobyteArrays(256 * 1024);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        Kept.Clear();

        var summary = await trace.StopAsync(tokens: 1000, CancellationToken.None);

        var bytes = Assert.Single(summary.TopTypes, t => t.Name == "System.Byte[]");
        Assert.True(bytes.Share > 0.5, $"byte arrays were {bytes.Share:P0} of what was sampled");
        // 256 MiB over 1,000 "tokens" is 268 KB a token, sampled every ≈ 100 KB; tests running meanwhile can only add.
        Assert.True(summary.AllocatedBytesPerToken > 200_000, $"{summary.AllocatedBytesPerToken:F0} bytes a token");
        var here = Assert.Single(summary.TopStacks, s => s.Name.Contains(nameof(AllocateKilobyteArrays), StringComparison.Ordinal));
        Assert.True(here.Share > 0.5);
        Assert.True(summary.Gen2 >= 2, $"gen2 collections: {summary.Gen2}");
        Assert.True(summary.PauseMs > 0 && summary.MaxPauseMs <= summary.PauseMs);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AllocateKilobyteArrays(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var array = new byte[1024];
            // Some escape, so the JIT cannot put any of them on the stack.
            if (i % 4096 == 0)
            {
                Kept.Add(array);
            }
        }
    }
}
