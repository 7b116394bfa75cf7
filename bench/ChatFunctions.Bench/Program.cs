using System.Globalization;
using System.Text.Json;
using ChatFunctions.Bench;

// Usage (docs/benchmarks.md):
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- [--levels 1,10,100,...] [--tokens 100] [--rate 20]
//        [--app-dll ChatFunctions/bin/Release/net10.0/ChatFunctions.dll | --in-process] [--no-direct] [--no-alloc] [--out DIR]
//        [--app-env "DOTNET_GCgen0size=0x400000;DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0"] [--upstream-tls (relay only)]
//        [--app-cpus 0]   (the app pinned to CPU 0; run the bench under `taskset -c 1` to split the machine)
//        [--gc-trace]     (the app's allocations by type and stack, collections and pauses per relay level: gc.md)
//        [--alloc-only]   (only the in-process allocation and CPU per token of each path, both APIs: allocations.md)
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --resume [--levels 100,1000] [--resumed 50] [--resume-rounds 1] [--cost-replies 10] [--out DIR]
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --budget [--requests 1000] [--budget-tokens 100000] [--max-output 1024] [--reply-tokens 200] [--out DIR]
//        (spend control: one caller's concurrent requests over two instances sharing Azurite; total <= budget, table = done frames)
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --memory [--levels 200,1000] [--tokens 100] [--census] [--upstream-tls] [--finished N] [--app-env ...] [--out DIR]
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --cold-start "jit=pub-jit/ChatFunctions.dll;r2r=pub-r2r/ChatFunctions.dll" [--runs 5]
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --think [--replies 5] [--in-process | --app-dll ...]
//        (time to first token at each reasoning effort against the fake model's think for it)
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --telemetry-memory [--streams 200] [--tokens 100] [--rounds 3] [--out DIR]
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- --url https://<app>.azurewebsites.net --prompt "..." [--streams 10]
//   dotnet run -c Release --project bench/ChatFunctions.Bench -- storage [--replies 20] [--tokens 1000] [--rate 50] [--flush-ms 250]
//        [--connection-string "..."]  (stream log storage on Azurite: append blobs vs Azure Tables; docs/benchmarks.md)
if (args.Length > 0 && args[0] == "storage")
{
    return await RunStorageBenchAsync(ParseArgs(args[1..]));
}

var options = ParseArgs(args);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

if (options.TryGetValue("url", out var url))
{
    var streams = int.Parse(options.GetValueOrDefault("streams", "10"), CultureInfo.InvariantCulture);
    var prompt = options.GetValueOrDefault("prompt", "Write three short paragraphs about streaming.");
    var remote = await Remote.RunAsync(new Uri(url.EndsWith('/') ? url : url + "/"), prompt, streams,
        TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("ramp-seconds", "1"), CultureInfo.InvariantCulture)),
        TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("timeout-seconds", "300"), CultureInfo.InvariantCulture)), stop.Token);
    Console.WriteLine($"{streams} concurrent streams against {url}");
    Console.WriteLine();
    Console.WriteLine(Report.RemoteTable(remote));
    return remote.Completed == streams ? 0 : 1;
}

if (options.ContainsKey("think"))
{
    // Time to first token at each reasoning effort against the fake model's think for that effort (docs/benchmarks.md).
    var thinkRows = await ThinkBench.RunAsync(new ThinkBenchOptions
    {
        Replies = int.Parse(options.GetValueOrDefault("replies", "5"), CultureInfo.InvariantCulture),
        AppDll = options.ContainsKey("in-process") ? null : Path.GetFullPath(options.GetValueOrDefault("app-dll") ?? AppUnderTest.FindReleaseDll()
            ?? throw new InvalidOperationException("ChatFunctions.dll (Release) not found: build the solution first.")),
        Progress = line => Console.Error.WriteLine(line),
    }, stop.Token);
    Console.WriteLine(ThinkBench.Table(thinkRows));
    return 0;
}

var outDir = options.GetValueOrDefault("out");
if (options.ContainsKey("resume"))
{
    // Resumable streams: persistence off vs on in the same run, resume delay across processes, transactions per reply.
    var resumeOptions = new ResumeBenchOptions
    {
        AppDll = options.ContainsKey("in-process") ? null : Path.GetFullPath(options.GetValueOrDefault("app-dll") ?? AppUnderTest.FindReleaseDll()
            ?? throw new InvalidOperationException("ChatFunctions.dll (Release) not found: build the solution first.")),
        Progress = line => Console.Error.WriteLine(line),
    };
    if (options.TryGetValue("levels", out var resumeLevels))
    {
        resumeOptions = resumeOptions with { Levels = resumeLevels.Split(',').Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToArray() };
    }

    if (options.TryGetValue("resumed", out var resumed))
    {
        resumeOptions = resumeOptions with { ResumedStreams = int.Parse(resumed, CultureInfo.InvariantCulture) };
    }

    if (options.TryGetValue("resume-rounds", out var rounds))
    {
        resumeOptions = resumeOptions with { ResumeRounds = int.Parse(rounds, CultureInfo.InvariantCulture) };
    }

    if (options.TryGetValue("cost-replies", out var costReplies))
    {
        resumeOptions = resumeOptions with { CostReplies = int.Parse(costReplies, CultureInfo.InvariantCulture) };
    }

    var resumeStarted = DateTime.UtcNow;
    var resumeResult = await ResumeBench.RunAsync(resumeOptions, stop.Token);
    var resumeTable = ResumeBench.Table(resumeResult);
    Console.WriteLine(resumeTable);
    Console.WriteLine($"resume benchmark took {(DateTime.UtcNow - resumeStarted).TotalSeconds:F0} s.");
    Write(outDir, "resume.md", resumeTable);
    Write(outDir, "resume.json", JsonSerializer.Serialize(resumeResult, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
    return resumeResult.Levels.All(l => l.Sweep.FailedStreams == 0 && l.Sweep.LostFrames == 0 && l.ResumeFailures == 0) ? 0 : 1;
}

if (options.ContainsKey("budget"))
{
    var budgetOptions = new BudgetBenchOptions
    {
        AppDll = options.ContainsKey("in-process") ? null : Path.GetFullPath(options.GetValueOrDefault("app-dll") ?? AppUnderTest.FindReleaseDll()
            ?? throw new InvalidOperationException("ChatFunctions.dll (Release) not found: build the solution first.")),
        Requests = int.Parse(options.GetValueOrDefault("requests", "1000"), CultureInfo.InvariantCulture),
        Budget = long.Parse(options.GetValueOrDefault("budget-tokens", "100000"), CultureInfo.InvariantCulture),
        MaxOutputTokens = int.Parse(options.GetValueOrDefault("max-output", "1024"), CultureInfo.InvariantCulture),
        ReplyTokens = int.Parse(options.GetValueOrDefault("reply-tokens", "200"), CultureInfo.InvariantCulture),
        Progress = line => Console.Error.WriteLine(line),
    };
    var budgetResult = await BudgetBench.RunAsync(budgetOptions, stop.Token);
    var budgetTable = BudgetBench.Table(budgetResult);
    Console.WriteLine(budgetTable);
    Write(outDir, "budget.md", budgetTable);
    Write(outDir, "budget.json", JsonSerializer.Serialize(budgetResult, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
    return budgetResult.WithinBudget && budgetResult.NothingLost && budgetResult.Other == 0 ? 0 : 1;
}

if (options.ContainsKey("memory"))
{
    // What an open stream holds: N streams paused mid-reply, probed inside the app (heap after a full GC, committed,
    // RSS, our holders) and, with --census, live objects by type and byte arrays by holder (a dump read with ClrMD).
    var memoryOptions = new MemoryBenchOptions
    {
        AppDll = Path.GetFullPath(options.GetValueOrDefault("app-dll") ?? AppUnderTest.FindReleaseDll()
            ?? throw new InvalidOperationException("ChatFunctions.dll (Release) not found: build the solution first.")),
        AppEnvironment = options.TryGetValue("app-env", out var memoryEnv)
            ? memoryEnv.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1])
            : null,
        Census = options.ContainsKey("census"),
        UpstreamTls = options.ContainsKey("upstream-tls"),
        Progress = line => Console.Error.WriteLine(line),
    };
    if (options.TryGetValue("levels", out var memoryLevels))
    {
        memoryOptions = memoryOptions with { Levels = memoryLevels.Split(',').Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToArray() };
    }

    if (options.TryGetValue("tokens", out var memoryTokens))
    {
        memoryOptions = memoryOptions with { Tokens = int.Parse(memoryTokens, CultureInfo.InvariantCulture) };
    }

    if (options.TryGetValue("finished", out var finished))
    {
        memoryOptions = memoryOptions with { FinishedReplies = int.Parse(finished, CultureInfo.InvariantCulture) };
    }

    var probes = await MemoryBench.RunAsync(memoryOptions, stop.Token);
    var memoryTable = MemoryBench.Table(probes);
    Console.WriteLine(memoryTable);
    Write(outDir, "memory.md", memoryTable);
    Write(outDir, "memory.json", JsonSerializer.Serialize(probes.Select(p => new { p.Streams, p.Values, ByType = p.Census?.ByType.ToDictionary(c => c.Key, c => new[] { c.Value.Bytes, c.Value.Count }), ByteArraysByHolder = p.Census?.ByteArraysByHolder.ToDictionary(c => c.Key, c => new[] { c.Value.Bytes, c.Value.Count }) }),
        new JsonSerializerOptions { WriteIndented = true }));
    return 0;
}

if (options.TryGetValue("cold-start", out var builds))
{
    // --cold-start "jit=/tmp/pub-jit/ChatFunctions.dll;r2r=/tmp/pub-r2r/ChatFunctions.dll" [--runs 5]: builds alternate run by run.
    var runs = int.Parse(options.GetValueOrDefault("runs", "5"), CultureInfo.InvariantCulture);
    var labelled = builds.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(b => b.Split('=', 2)).ToList();
    var perBuild = labelled.ToDictionary(b => b[0], _ => new List<ColdStartResult>());
    for (var run = 0; run < runs; run++)
    {
        foreach (var build in labelled)
        {
            Console.Error.WriteLine($"cold start: {build[0]} run {run + 1} of {runs} ...");
            // label=path.dll|NAME=value,NAME2=value: runtime knobs for that build's processes.
            var parts = build[1].Split('|', 2);
            var env = parts.Length == 2 ? parts[1].Split(',').Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]) : null;
            perBuild[build[0]].Add(await ColdStart.RunAsync(build[0], Path.GetFullPath(parts[0]), 1, env, stop.Token));
        }
    }

    var results = perBuild.Select(kv => new ColdStartResult(kv.Key, kv.Value[0].AppDll,
        kv.Value.SelectMany(r => r.FirstTokenMs).ToList(), kv.Value.SelectMany(r => r.FirstTokenCpuMs).ToList(), kv.Value.SelectMany(r => r.WorkerConnectMs).ToList())).ToList();
    var coldTable = ColdStart.Table(results);
    Console.WriteLine(coldTable);
    Write(outDir, "cold-start.md", coldTable);
    return 0;
}

if (options.ContainsKey("telemetry-memory"))
{
    // Bytes the GenAI telemetry layer holds per open stream: none vs M.E.AI's middleware vs ours, in process.
    var memoryStreams = int.Parse(options.GetValueOrDefault("streams", "200"), CultureInfo.InvariantCulture);
    var memoryTokens = int.Parse(options.GetValueOrDefault("tokens", "100"), CultureInfo.InvariantCulture);
    var memoryRows = await TelemetryMemory.RunAsync(memoryStreams, memoryTokens, int.Parse(options.GetValueOrDefault("rounds", "3"), CultureInfo.InvariantCulture), stop.Token);
    var memoryTable = TelemetryMemory.Table(memoryRows, memoryStreams, memoryTokens);
    Console.WriteLine(memoryTable);
    Write(outDir, "telemetry-memory.md", memoryTable);
    return 0;
}

if (!options.ContainsKey("no-alloc"))
{
    var allocTokens = int.Parse(options.GetValueOrDefault("alloc-tokens", "20000"), CultureInfo.InvariantCulture);
    Console.Error.WriteLine($"allocations: {allocTokens} tokens per run, in process ...");
    var rows = await Allocations.RunAsync(allocTokens, stop.Token);
    var table = Report.AllocationTable(rows);
    Console.WriteLine(table);
    Write(outDir, "allocations.md", table);
    if (options.ContainsKey("alloc-only"))
    {
        return 0;
    }
}

var appDll = options.ContainsKey("in-process") ? null : options.GetValueOrDefault("app-dll") ?? AppUnderTest.FindReleaseDll()
    ?? throw new InvalidOperationException("ChatFunctions.dll (Release) not found: run `dotnet build -c Release ChatFunctions.sln` first, or pass --app-dll or --in-process.");
var sweepOptions = new SweepOptions
{
    AppDll = appDll is null ? null : Path.GetFullPath(appDll),
    Direct = !options.ContainsKey("no-direct") && !options.ContainsKey("upstream-tls"),
    UpstreamTls = options.ContainsKey("upstream-tls"),
    GcTrace = options.ContainsKey("gc-trace"),
    Progress = line => Console.Error.WriteLine(line),
};
if (options.TryGetValue("app-cpus", out var appCpus))
{
    // --app-cpus 0: pin the app to CPU 0; run the bench itself under `taskset -c 1` for a split machine.
    sweepOptions = sweepOptions with { AppCpus = appCpus };
}

if (options.TryGetValue("app-env", out var appEnv))
{
    // --app-env "NAME=value;NAME2=value": runtime knobs for the app process (GC, thread pool) to compare settings.
    sweepOptions = sweepOptions with
    {
        AppEnvironment = appEnv.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]),
    };
}

if (options.TryGetValue("levels", out var levels))
{
    sweepOptions = sweepOptions with { Levels = levels.Split(',').Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToArray() };
}

if (options.TryGetValue("tokens", out var tokens))
{
    sweepOptions = sweepOptions with { Tokens = int.Parse(tokens, CultureInfo.InvariantCulture) };
}

if (options.TryGetValue("rate", out var rate))
{
    sweepOptions = sweepOptions with { TokensPerSecond = double.Parse(rate, CultureInfo.InvariantCulture) };
}

Console.Error.WriteLine($"sweep: levels {string.Join(',', sweepOptions.Levels)}, {sweepOptions.Tokens} tokens per stream at {sweepOptions.TokensPerSecond} tok/s, app {sweepOptions.AppDll ?? "in process"}");
var started = DateTime.UtcNow;
var sweep = await Sweep.RunAsync(sweepOptions, stop.Token);
var sweepTable = Report.SweepTable(sweep);
Console.WriteLine(sweepTable);
var crossing = sweep.Levels.Where(l => l.Mode == "relay" && l.AddedLatencyMs.P99 > 50).Select(l => (int?)l.Streams).FirstOrDefault();
var summary = crossing is { } c ? $"relay p99 first passes 50 ms at {c} streams" : "relay p99 stays under 50 ms at every level";
var integrity = sweep.Levels.All(l => l.LostFrames == 0 && l.ReorderedStreams == 0 && l.IdGapStreams == 0 && l.FailedStreams == 0)
    ? "no frame lost or reordered, no id gap, no failed stream at any level" : "SOME FRAMES WERE LOST OR REORDERED, or streams failed: see the table";
Console.WriteLine($"{summary}; {integrity}; sweep took {(DateTime.UtcNow - started).TotalSeconds:F0} s.");
Write(outDir, "sweep.md", sweepTable + "\n" + summary + "; " + integrity + ".\n");
Write(outDir, "sweep.json", JsonSerializer.Serialize(sweep, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
Write(outDir, "latency.svg", Report.LatencyChart(sweep));
if (sweepOptions.GcTrace)
{
    var gcTable = GcTrace.Table(sweep);
    Console.WriteLine(gcTable);
    Write(outDir, "gc.md", gcTable);
}

return 0;

static async Task<int> RunStorageBenchAsync(Dictionary<string, string> options)
{
    var storage = new StorageBenchOptions
    {
        Replies = int.Parse(options.GetValueOrDefault("replies", "20"), CultureInfo.InvariantCulture),
        Tokens = int.Parse(options.GetValueOrDefault("tokens", "1000"), CultureInfo.InvariantCulture),
        TokensPerSecond = double.Parse(options.GetValueOrDefault("rate", "50"), CultureInfo.InvariantCulture),
        FlushMilliseconds = int.Parse(options.GetValueOrDefault("flush-ms", "250"), CultureInfo.InvariantCulture),
        ConnectionString = options.GetValueOrDefault("connection-string"),
        Progress = line => Console.Error.WriteLine(line),
    };
    var result = await StorageBench.RunAsync(storage);
    // Hot tier, LRS, East US, per 10,000 transactions (see docs/benchmarks.md, "Stream log storage", for the source and date).
    var prices = new StoragePrices(BlobWritePer10K: 0.05, BlobReadPer10K: 0.004, TablePer10K: 0.00036, Source: "list prices, LRS, East US: blob Hot writes $0.05, Table transactions $0.00036 per 10,000");
    Console.WriteLine(StorageBench.Table(result, prices));
    return 0;
}

static void Write(string? dir, string name, string text)
{
    if (dir is null)
    {
        return;
    }

    Directory.CreateDirectory(dir);
    File.WriteAllText(Path.Combine(dir, name), text);
    Console.Error.WriteLine($"wrote {Path.Combine(dir, name)}");
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    for (var i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"unexpected argument '{args[i]}'");
        }

        var key = args[i][2..];
        var eq = key.IndexOf('=', StringComparison.Ordinal);
        if (eq >= 0)
        {
            result[key[..eq]] = key[(eq + 1)..];
        }
        else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            result[key] = args[++i];
        }
        else
        {
            result[key] = "true";
        }
    }

    return result;
}
