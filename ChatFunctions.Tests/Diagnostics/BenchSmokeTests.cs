using ChatFunctions.Bench;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.Diagnostics;

/// <summary>
/// A seconds-long run of the benchmark (bench/ChatFunctions.Bench) with tiny parameters, so it keeps working:
/// the app in this process, Azure OpenAI SDK against the fake server, relay and direct.
/// </summary>
[Trait("Category", "Bench")]
public sealed class BenchSmokeTests
{
    /// <summary>--app-cpus: the app runs on the cores given (taskset execs dotnet, so the process the bench measures is
    /// the app's own), and still answers.</summary>
    [Fact]
    public async Task The_app_can_be_pinned_to_its_own_cores_and_is_the_process_measured()
    {
        var appDll = RepoFiles.AppBuildOutput("ChatFunctions.dll");
        Assert.True(File.Exists(appDll), $"build the solution first: {appDll} is missing");
        await using var fake = await FakeAzureOpenAI.FakeAzureOpenAIServer.StartAsync();

        await using var app = await AppUnderTest.StartAsync(fake.Endpoint, appDll, null, CancellationToken.None, pinnedCpus: "0");

        var status = await File.ReadAllLinesAsync($"/proc/{app.ProcessId}/status");
        Assert.Contains("Cpus_allowed_list:\t0", status);
        Assert.Contains(status, line => line.StartsWith("Name:", StringComparison.Ordinal) && line.Contains("dotnet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_think_bench_sends_each_effort_and_measures_ttft_against_the_models_think()
    {
        var think = new Dictionary<string, TimeSpan> { ["none"] = TimeSpan.Zero, ["low"] = TimeSpan.FromMilliseconds(300) };

        var rows = await ThinkBench.RunAsync(new ThinkBenchOptions { ThinkByEffort = think, Replies = 2, AppDll = null });

        Assert.Equal(["none", "low"], rows.Select(r => r.Effort));
        // The fake's think is a timer, which never fires early: the model's part of the wait and the user's cover it.
        var allowance = TimeSpan.FromMilliseconds(20).TotalMilliseconds;
        Assert.All(rows, row => Assert.All(row.Samples, s =>
        {
            Assert.True(s.ModelFirstTokenMs >= row.Think.TotalMilliseconds - allowance, $"{row.Effort}: the model took {s.ModelFirstTokenMs} ms of a {row.Think.TotalMilliseconds} ms think");
            Assert.True(s.ClientTtftMs >= s.ModelFirstTokenMs, $"{row.Effort}: the client's TTFT {s.ClientTtftMs} ms includes the model's {s.ModelFirstTokenMs} ms");
            // The split adds up: the client's wait is the part before the model, the model's, and the part after.
            // (each part is rounded to a 100 ns tick: three of them differ from the whole by less than a microsecond).
            Assert.InRange(s.BeforeModelMs + s.ModelFirstTokenMs + s.AfterModelMs, s.ClientTtftMs - 0.001, s.ClientTtftMs + 0.001);
            Assert.NotNull(s.ThinkingFrameMs);
            // The app times the think between its own sight of the model's acceptance and of the first token, each of
            // which a loaded machine can delay, so it is bounded by causes, not by the think: it begins before the client
            // has the thinking frame (written once the app saw the acceptance) and ends after the fake sent the first
            // token (stamped before it was written), all on one monotonic clock; the app rounds it to 0.1 ms. An app that
            // did not time it would say about 0, below that span whenever the client saw the thinking frame before the
            // fake sent its first token.
            Assert.NotNull(s.ServerThinkingMs);
            var floor = s.BeforeModelMs + s.ModelFirstTokenMs - s.ThinkingFrameMs!.Value - 0.05;
            Assert.InRange(s.ServerThinkingMs.Value, floor, s.ClientTtftMs);
            Assert.Equal(ThinkBench.ReasoningTokens, s.ReasoningTokens);
        }));
        Assert.Contains("| low | 300 |", ThinkBench.Table(rows), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tiny_sweep_relays_every_token_in_order_with_sane_numbers()
    {
        var sweep = await Sweep.RunAsync(new SweepOptions
        {
            Levels = [3],
            Tokens = 20,
            TokensPerSecond = 50,
            AppDll = null,
            LevelTimeout = TimeSpan.FromSeconds(60),
        });

        Assert.Equal(["relay", "direct"], sweep.Levels.Select(l => l.Mode));
        foreach (var level in sweep.Levels)
        {
            Assert.Equal(3, level.Streams);
            Assert.Equal(60, level.TokensReceived);
            Assert.Equal(0, level.LostFrames);
            Assert.Equal(0, level.ReorderedStreams);
            Assert.Equal(0, level.IdGapStreams);
            Assert.Equal(0, level.FailedStreams);
            // One latency per token received and one time to first byte per stream: what the report's percentiles are
            // of. Their values are the benchmark's to report (bench/), not a smoke test's to bound.
            Assert.Equal(60, level.AddedLatencyMs.Count);
            Assert.Equal(3, level.TimeToFirstByteMs.Count);
        }

        var chart = Report.LatencyChart(sweep);
        Assert.StartsWith("<svg", chart, StringComparison.Ordinal);
        Assert.Contains("relay p99", chart, StringComparison.Ordinal);
        Assert.Contains("| 3 | relay |", Report.SweepTable(sweep), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_allocation_measurement_runs_every_path()
    {
        var rows = await Allocations.RunAsync(500);
        Assert.Equal(13, rows.Count);
        Assert.Equal(13, rows.Select(r => r.Path).Distinct().Count());
        Assert.Equal(2, rows.Count(r => r.Path.Contains("CHAT_API=responses", StringComparison.Ordinal)));
        Assert.Single(rows, r => r.Path.StartsWith("Responses API, SDK types", StringComparison.Ordinal));
        Assert.All(rows, r => Assert.Equal(500, r.Tokens));
    }

    [Fact]
    public async Task The_telemetry_memory_measurement_runs_every_layer_with_and_without_a_listener()
    {
        var rows = await TelemetryMemory.RunAsync(streams: 4, tokens: 10, rounds: 1);
        // Other tests allocate in this process at the same time: the figures are the bench's to compare, not ours.
        Assert.Equal(6, rows.Count);
        Assert.Equal(3, rows.Select(r => r.Layer).Distinct().Count());
        Assert.All(rows, r => Assert.True(double.IsFinite(r.BytesPerStream)));
        var table = TelemetryMemory.Table(rows, 4, 10);
        Assert.Contains("| GenAiTelemetryChatClient | yes |", table, StringComparison.Ordinal);
        Assert.Contains("| M.E.AI OpenTelemetryChatClient | no |", table, StringComparison.Ordinal);
    }
}
