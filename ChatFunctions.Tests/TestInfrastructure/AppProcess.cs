using System.Diagnostics;
using System.Net;
using System.Text;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// The built app started as its own process (`dotnet ChatFunctions.dll`, the standalone host), as a second instance
/// of a scaled-out app would be: nothing shared with the test process but the network and the storage it is given.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AppProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public int ProcessId => _process.Id;

    /// <summary>Everything the app wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The app's resident set size now (Linux /proc).</summary>
    public long ResidentBytes()
    {
        _process.Refresh();
        return _process.WorkingSet64;
    }

    /// <param name="settings">Environment variables for the app (the way App Service passes app settings).</param>
    public static async Task<AppProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var dll = RepoFiles.AppBuildOutput("ChatFunctions.dll");
        var port = AzuriteServer.FreePorts(1)[0];
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var name in new[] { "FUNCTIONS_WORKER_RUNTIME", "AZURE_OPENAI_ENDPOINT", "OPENAI_BASE_URL", "CHAT_PROVIDER", "AzureWebJobsStorage", "APPLICATIONINSIGHTS_CONNECTION_STRING" })
        {
            start.Environment.Remove(name);
        }

        // The demo model unless the settings choose another.
        start.Environment["CHAT_PROVIDER"] = "Demo";
        start.Environment["DEMO_TOKEN_DELAY_MS"] = "1";
        start.Environment["CHAT_HOST_MODE"] = "standalone";
        start.Environment["CHAT_WEB_ROOT"] = "";
        // Tests open many replies from one loopback address at once; the tests of the limit set their own.
        start.Environment["CHAT_MAX_OPEN_REPLIES_PER_CALLER"] = "0";
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the app");
        var app = new AppProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => app.Append(e.Data);
        process.ErrorDataReceived += (_, e) => app.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await app.WaitForHealthAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private async Task WaitForHealthAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the app exited with code {_process.ExitCode}: {Output}");
            }

            try
            {
                using var response = await Client.GetAsync("/api/health");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(Poll.RequestInterval);
        }

        throw new TimeoutException($"the app did not answer /api/health within 60 s: {Output}");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }
}
