using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// Azurite from scripts/azurite.sh (installed from npm into .tools/ on first use) on free loopback ports with its own
/// data folder, for tests that need real storage; stopped and deleted on dispose.
/// </summary>
public sealed class AzuriteStorage : IAsyncDisposable
{
    // The documented, public development-storage account that UseDevelopmentStorage=true stands for.
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _process;
    private readonly string _dataDirectory;

    private AzuriteStorage(Process process, string dataDirectory, int[] ports)
    {
        _process = process;
        _dataDirectory = dataDirectory;
        var (blob, queue, table) = (ports[0], ports[1], ports[2]);
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blob}/{AccountName};QueueEndpoint=http://127.0.0.1:{queue}/{AccountName};TableEndpoint=http://127.0.0.1:{table}/{AccountName};";
    }

    /// <summary>An AzureWebJobsStorage connection string for this emulator.</summary>
    public string ConnectionString { get; }

    public static async Task<AzuriteStorage> StartAsync()
    {
        var script = RepoFiles.PathOf("scripts", "azurite.sh");
        var install = await ProcessRunner.RunAsync("bash", [script, "--install"], RepoFiles.Root, TimeSpan.FromMinutes(8));
        Assert.True(install.ExitCode == 0, install.Describe());

        var ports = FreePorts(3);
        var data = Directory.CreateTempSubdirectory("azurite-budget-").FullName;
        var start = new ProcessStartInfo("bash") { WorkingDirectory = RepoFiles.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            script,
            "--blob-port", ports[0].ToString(CultureInfo.InvariantCulture),
            "--queue-port", ports[1].ToString(CultureInfo.InvariantCulture),
            "--table-port", ports[2].ToString(CultureInfo.InvariantCulture),
            "--location", data, "--", "--silent",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var storage = new AzuriteStorage(process, data, ports);
        try
        {
            await storage.WaitForTableEndpointAsync(ports[2], TimeSpan.FromSeconds(60));
            return storage;
        }
        catch
        {
            await storage.DisposeAsync();
            throw;
        }
    }

    private async Task WaitForTableEndpointAsync(int port, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} before answering.");
            }

            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/{AccountName}/Tables"));
                return;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(250);
            }
            catch (TaskCanceledException)
            {
                await Task.Delay(250);
            }
        }

        throw new TimeoutException($"Azurite's table endpoint did not answer on port {port} within {timeout}.");
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    public async ValueTask DisposeAsync()
    {
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
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file Azurite still held; the temp folder is cleaned by the OS.
        }
    }
}
