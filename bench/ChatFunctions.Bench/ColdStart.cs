using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FakeAzureOpenAI;

namespace ChatFunctions.Bench;

/// <param name="FirstTokenCpuMs">The app process's CPU time (user + system, all threads) when the first token arrived: what
/// the start cost in work, much less sensitive than wall time to other processes sharing the cores.</param>
public sealed record ColdStartResult(string Label, string AppDll, IReadOnlyList<double> FirstTokenMs, IReadOnlyList<double> FirstTokenCpuMs, IReadOnlyList<double> WorkerConnectMs);

/// <summary>
/// Process start → first token, the way a scaled-to-zero instance pays for it: `dotnet ChatFunctions.dll` started
/// fresh (standalone host, Azure OpenAI provider against the fake server), one POST sent as soon as the port accepts,
/// timed until its first chunk frame arrives. And, as far as the Functions worker's own start path runs without the
/// Functions host: process start → the worker opening its gRPC connection to the host (a listener of ours that the
/// worker dials; the host itself is not installed here).
/// </summary>
public static class ColdStart
{
    public static async Task<ColdStartResult> RunAsync(string label, string appDll, int runs, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(cancellationToken: cancellationToken);
        fake.DefaultScript = FakeScript.Reply("cold", " start");
        var firstToken = new List<double>();
        var firstTokenCpu = new List<double>();
        var workerConnect = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var (wall, cpu) = await FirstTokenAsync(appDll, fake.Endpoint, environment, cancellationToken);
            firstToken.Add(wall);
            firstTokenCpu.Add(cpu);
            workerConnect.Add(await WorkerConnectAsync(appDll, environment, cancellationToken));
        }

        return new ColdStartResult(label, appDll, firstToken, firstTokenCpu, workerConnect);
    }

    private static async Task<(double WallMs, double CpuMs)> FirstTokenAsync(string appDll, Uri fakeEndpoint, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var settings = AppUnderTest.Settings(fakeEndpoint);
        var start = Start(appDll, ["--urls", $"http://127.0.0.1:{port}"], settings, environment);
        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the app");
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = TimeSpan.FromSeconds(30) };
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (process.HasExited || stopwatch.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new InvalidOperationException($"the app did not stream within 60 s (exited: {process.HasExited})");
                }

                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/api/chat/stream")
                    {
                        Content = new StringContent("""{"message":"hi"}""", Encoding.UTF8, "application/json"),
                    };
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                    while (await reader.ReadLineAsync(cancellationToken) is { } line)
                    {
                        if (line.StartsWith("data: {\"chunk\"", StringComparison.Ordinal))
                        {
                            var total = stopwatch.Elapsed.TotalMilliseconds;
                            process.Refresh();
                            var cpu = process.TotalProcessorTime.TotalMilliseconds;
                            return (total, cpu);
                        }
                    }

                    throw new InvalidOperationException("the stream ended without a chunk");
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                    await Task.Delay(2, cancellationToken);
                }
            }
        }
        finally
        {
            Stop(process);
        }
    }

    /// <summary>Process start → the isolated worker dials the Functions host's gRPC endpoint (ours: a bare listener).</summary>
    private static async Task<double> WorkerConnectAsync(string appDll, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var settings = new Dictionary<string, string>
        {
            ["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated",
            ["AzureWebJobsScriptRoot"] = Path.GetDirectoryName(appDll)!,
            ["CHAT_PROVIDER"] = "Demo",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        var start = Start(appDll,
            ["--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--workerId", Guid.NewGuid().ToString(),
             "--requestId", Guid.NewGuid().ToString(), "--grpcMaxMessageLength", "2147483647",
             "--functions-uri", $"http://127.0.0.1:{port}/", "--functions-worker-id", Guid.NewGuid().ToString(),
             "--functions-request-id", Guid.NewGuid().ToString(), "--functions-grpc-max-message-length", "2147483647"],
            settings, environment);
        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            using var client = await listener.AcceptTcpClientAsync(timeout.Token);
            return stopwatch.Elapsed.TotalMilliseconds;
        }
        finally
        {
            Stop(process);
        }
    }

    private static ProcessStartInfo Start(string appDll, string[] args, Dictionary<string, string> settings, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(appDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (k, v) in AppUnderTest.RuntimeEnvironment.Concat(settings))
        {
            start.Environment[k] = v;
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }

        return start;
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string Table(IReadOnlyList<ColdStartResult> results)
    {
        var lines = new StringBuilder();
        lines.AppendLine("| build | runs | start → first token p50 / min / max (ms) | app CPU to first token p50 / min / max (ms) | start → worker dials the host p50 / min / max (ms) |");
        lines.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            lines.AppendLine(System.Globalization.CultureInfo.InvariantCulture,
                $"| {r.Label} | {r.FirstTokenMs.Count} | {Median(r.FirstTokenMs):F0} / {r.FirstTokenMs.Min():F0} / {r.FirstTokenMs.Max():F0} | {Median(r.FirstTokenCpuMs):F0} / {r.FirstTokenCpuMs.Min():F0} / {r.FirstTokenCpuMs.Max():F0} | {Median(r.WorkerConnectMs):F0} / {r.WorkerConnectMs.Min():F0} / {r.WorkerConnectMs.Max():F0} |");
        }

        return lines.ToString();
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
