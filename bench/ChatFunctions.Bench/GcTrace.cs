using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace ChatFunctions.Bench;

/// <summary>What the app allocated and how long the GC paused it during one level (sampled allocations: the runtime
/// reports one allocation tick per ≈ 100 KB, with its type and stack).</summary>
public sealed record GcSummary(
    double AllocatedBytesPerToken,
    int Gen0,
    int Gen1,
    int Gen2,
    double PauseMs,
    double MaxPauseMs,
    IReadOnlyList<GcShare> TopTypes,
    IReadOnlyList<GcShare> TopStacks);

/// <summary>A type, or a stack (innermost frame first) with the type allocated there, and its share of the bytes.</summary>
public sealed record GcShare(string Name, double Share);

/// <summary>
/// An EventPipe session on the app through its diagnostics port (as dotnet-trace does), for one level: the runtime's
/// GC events (allocation ticks with stacks, collections, suspensions) and, for stack names, its JIT and loader events
/// with a rundown when the session stops. Attaching costs the app a few percent of CPU, so a traced sweep is for
/// finding where allocations and pauses come from, not for the CPU and latency columns.
/// </summary>
public sealed class GcTrace
{
    private const int StackDepth = 6;
    private readonly EventPipeSession _session;
    private readonly Task _copy;
    private readonly string _path;

    private GcTrace(EventPipeSession session, Task copy, string path)
    {
        _session = session;
        _copy = copy;
        _path = path;
    }

    public static GcTrace Start(int processId, string path)
    {
        var keywords = ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.Jit | ClrTraceEventParser.Keywords.Loader;
        var providers = new[] { new EventPipeProvider(ClrTraceEventParser.ProviderName, EventLevel.Verbose, (long)keywords) };
        var session = new DiagnosticsClient(processId).StartEventPipeSession(providers, requestRundown: true);
        var copy = Task.Run(async () =>
        {
            await using var file = File.Create(path);
            await session.EventStream.CopyToAsync(file);
        });
        return new GcTrace(session, copy, path);
    }

    /// <summary>Stops the session, reads the trace and deletes it.</summary>
    public async Task<GcSummary> StopAsync(long tokens, CancellationToken cancellationToken)
    {
        await _session.StopAsync(cancellationToken);
        await _copy;
        _session.Dispose();
        var etlx = TraceLog.CreateFromEventPipeDataFile(_path, null, new TraceLogOptions { ContinueOnError = true });
        try
        {
            using var log = new TraceLog(etlx);
            return Summarize(log, tokens);
        }
        finally
        {
            File.Delete(_path);
            File.Delete(etlx);
        }
    }

    private static GcSummary Summarize(TraceLog log, long tokens)
    {
        var byType = new Dictionary<string, long>();
        var byStack = new Dictionary<string, long>();
        var collections = new int[3];
        var pauses = new List<double>();
        long allocated = 0;
        double suspended = double.NaN;
        foreach (var traceEvent in log.Events)
        {
            switch (traceEvent)
            {
                case GCAllocationTickTraceData tick:
                    var type = tick.TypeName ?? "?";
                    allocated += tick.AllocationAmount64;
                    byType[type] = byType.GetValueOrDefault(type) + tick.AllocationAmount64;
                    var stack = StackOf(tick) + "  [" + type + "]";
                    byStack[stack] = byStack.GetValueOrDefault(stack) + tick.AllocationAmount64;
                    break;
                case GCStartTraceData start:
                    collections[Math.Clamp(start.Depth, 0, 2)]++;
                    break;
                case GCSuspendEETraceData suspend:
                    suspended = suspend.TimeStampRelativeMSec;
                    break;
                case GCNoUserDataTraceData restarted when restarted.EventName == "GC/RestartEEStop" && !double.IsNaN(suspended):
                    pauses.Add(restarted.TimeStampRelativeMSec - suspended);
                    suspended = double.NaN;
                    break;
            }
        }

        return new GcSummary(
            tokens > 0 ? (double)allocated / tokens : 0,
            collections[0],
            collections[1],
            collections[2],
            pauses.Sum(),
            pauses.Count > 0 ? pauses.Max() : 0,
            Top(byType, allocated, 8),
            Top(byStack, allocated, 5));
    }

    private static string StackOf(GCAllocationTickTraceData tick)
    {
        var frames = new List<string>();
        for (var frame = tick.CallStack(); frame is not null && frames.Count < StackDepth; frame = frame.Caller)
        {
            var name = frame.CodeAddress.FullMethodName;
            if (!string.IsNullOrEmpty(name) && !name.StartsWith("System.GC.", StringComparison.Ordinal))
            {
                frames.Add(name.Split('(')[0]);
            }
        }

        return frames.Count == 0 ? "(no stack)" : string.Join(" ← ", frames);
    }

    private static List<GcShare> Top(Dictionary<string, long> bytes, long total, int count) =>
        [.. bytes.OrderByDescending(kv => kv.Value).Take(count).Select(kv => new GcShare(kv.Key, total > 0 ? (double)kv.Value / total : 0))];

    /// <summary>One table row per traced level, then where the last traced level's bytes were allocated.</summary>
    public static string Table(SweepResult sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var traced = sweep.Levels.Where(l => l.Gc is not null).ToList();
        var text = new StringBuilder();
        text.AppendLine("| streams | allocated B/token (sampled) | GCs gen0 / gen1 / gen2 | GC pause total / max (ms) | pause share of the level |");
        text.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (var level in traced)
        {
            var gc = level.Gc!;
            text.AppendLine(CultureInfo.InvariantCulture, $"| {level.Streams} | {gc.AllocatedBytesPerToken:F0} | {gc.Gen0} / {gc.Gen1} / {gc.Gen2} | {gc.PauseMs:F0} / {gc.MaxPauseMs:F1} | {gc.PauseMs / 10 / level.WallSeconds:F1} % |");
        }

        if (traced.Count > 0)
        {
            var last = traced[^1];
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Allocated at {last.Streams} streams, by type:").AppendLine();
            foreach (var share in last.Gc!.TopTypes)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"- {share.Share:P1} `{share.Name}`");
            }

            text.AppendLine().AppendLine("By stack (innermost first):").AppendLine();
            foreach (var share in last.Gc.TopStacks)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"- {share.Share:P1} {share.Name}");
            }
        }

        return text.ToString();
    }
}
