using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ChatFunctions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Bench;

/// <summary>
/// The real app on the standalone host, configured for Azure OpenAI (real SDK, API key) against the fake server.
/// Out of process (`dotnet ChatFunctions.dll`, the way it is measured) or in this process (smoke tests).
/// </summary>
public sealed class AppUnderTest : IAsyncDisposable
{
    private readonly Process? _process;
    private readonly WebApplication? _app;

    private AppUnderTest(Process? process, WebApplication? app, Uri baseAddress)
    {
        _process = process;
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>The process whose CPU and memory are measured (this one when the app runs in process).</summary>
    public int ProcessId => _process?.Id ?? Environment.ProcessId;

    public bool OutOfProcess => _process is not null;

    /// <summary>
    /// The process environment the app is deployed with (infra/app/api.bicep's app settings, local.settings.sample.json,
    /// scripts/run.sh): read by the runtime when the process starts, so an app started out of process gets it too.
    /// </summary>
    /// <remarks>
    /// HttpClient's HTTP/2 stream rents a 16 KiB buffer from the shared ArrayPool for each burst of a reply's data
    /// and returns it once read; at many open streams more are out at once than the pool's default 32 per core
    /// keeps, and each one it could not keep became garbage (docs/benchmarks-history.md §10).
    /// </remarks>
    public static IReadOnlyDictionary<string, string> RuntimeEnvironment { get; } = new Dictionary<string, string>
    {
        ["DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION"] = "256",
    };

    public static Dictionary<string, string> Settings(Uri fakeEndpoint) => new()
    {
        ["CHAT_HOST_MODE"] = "standalone",
        ["CHAT_PROVIDER"] = "AzureOpenAI",
        ["AZURE_OPENAI_ENDPOINT"] = fakeEndpoint.ToString(),
        ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "bench",
        ["AZURE_OPENAI_API_KEY"] = "bench-key",
        ["CHAT_WEB_ROOT"] = "",
        ["CHAT_MAX_OUTPUT_TOKENS"] = "100000",
        // Every bench stream comes from one loopback address.
        ["CHAT_MAX_OPEN_REPLIES_PER_CALLER"] = "0",
        // Two log lines per stream at Information; the bench measures the relay, not the console.
        ["Logging__LogLevel__Default"] = "Warning",
        ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = "",
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
    };

    /// <param name="pinnedCpus">CPUs to pin the app process to (a taskset list, e.g. "0"), or null.</param>
    public static async Task<AppUnderTest> StartAsync(
        Uri fakeEndpoint, string? appDll, IReadOnlyDictionary<string, string>? extraEnvironment, CancellationToken cancellationToken, string? pinnedCpus = null)
    {
        var settings = Settings(fakeEndpoint);
        foreach (var (k, v) in extraEnvironment ?? new Dictionary<string, string>())
        {
            settings[k] = v;
        }

        if (appDll is null)
        {
            var args = new List<string> { "--urls=http://127.0.0.1:0" };
            args.AddRange(settings.Select(kv => $"--{kv.Key.Replace("__", ":", StringComparison.Ordinal)}={kv.Value}"));
            var app = StandaloneHost.Build([.. args]);
            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new AppUnderTest(null, app, new Uri(address));
        }

        var port = FreePort();
        // --app-cpus: the app on its own cores (taskset execs dotnet, so the process id stays the app's), the bench
        // on the others when it runs under `taskset` itself: the relay then competes with neither the model nor the clients.
        var start = new ProcessStartInfo(pinnedCpus is null ? "dotnet" : "taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (pinnedCpus is not null)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(pinnedCpus);
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(appDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (k, v) in RuntimeEnvironment.Concat(settings))
        {
            start.Environment[k] = v;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the app");
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { Console.Error.WriteLine("[app] " + line); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { Console.Error.WriteLine("[app] " + line); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var baseAddress = new Uri($"http://127.0.0.1:{port}/");
        using var probe = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the app exited with code {process.ExitCode}");
            }

            try
            {
                using var response = await probe.GetAsync("api/health", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            // A hang bound, not a start-time measurement (the cold-start mode measures that): a loaded 2-core CI
            // machine was seen to take over 30 s to start the app.
            if (deadline.Elapsed > TimeSpan.FromSeconds(120))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("the app did not answer /api/health within 120 s");
            }

            await Task.Delay(100, cancellationToken);
        }

        return new AppUnderTest(process, null, baseAddress);
    }

    /// <summary>The app built by `dotnet build -c Release ChatFunctions.sln`, found from this program's folder upwards.</summary>
    public static string? FindReleaseDll()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var dll = Path.Combine(dir.FullName, "ChatFunctions", "bin", "Release", "net10.0", "ChatFunctions.dll");
            if (File.Exists(dll))
            {
                return dll;
            }
        }

        return null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}
