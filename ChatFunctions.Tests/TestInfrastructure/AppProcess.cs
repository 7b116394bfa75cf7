using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// `dotnet ChatFunctions.dll` as its own process (the standalone host) on a free loopback port, with settings as
/// environment variables, for tests that need several app instances (what Flex Consumption scales out to).
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;

    private AppProcess(Process process, StringBuilder output, Uri baseAddress)
    {
        _process = process;
        _output = output;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public HttpClient Client { get; }

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

    public static async Task<AppProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        var testBin = AppContext.BaseDirectory;
        var configuration = new DirectoryInfo(testBin).Parent!.Name;
        var root = Path.GetFullPath(Path.Combine(testBin, "..", "..", "..", ".."));
        var dll = Path.Combine(root, "ChatFunctions", "bin", configuration, "net10.0", "ChatFunctions.dll");
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var start = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var name in new[] { "FUNCTIONS_WORKER_RUNTIME", "CHAT_HOST_MODE", "AZURE_OPENAI_ENDPOINT", "OPENAI_BASE_URL", "CHAT_PROVIDER", "AzureWebJobsStorage" })
        {
            start.Environment.Remove(name);
        }

        start.Environment["CHAT_PROVIDER"] = "Demo";
        start.Environment["DEMO_TOKEN_DELAY_MS"] = "1";
        start.Environment["CHAT_WEB_ROOT"] = "";
        foreach (var (name, value) in settings)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var app = new AppProcess(process, output, new Uri($"http://127.0.0.1:{port}"));
        try
        {
            await app.WaitForHealthAsync(TimeSpan.FromSeconds(30));
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private async Task WaitForHealthAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            Assert.False(_process.HasExited, $"the app exited: {Output}");
            try
            {
                using var response = await Client.GetAsync(new Uri("/api/health", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        Assert.Fail($"the app did not answer /api/health within {timeout.TotalSeconds} s: {Output}");
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
