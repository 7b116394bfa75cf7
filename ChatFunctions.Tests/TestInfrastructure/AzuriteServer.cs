using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// One Azurite (scripts/azurite.sh, installed into .tools/ from npm on first use) on free loopback ports, shared by
/// every test class of <see cref="UsesAzurite"/> and stopped after the last of them.
/// </summary>
public sealed class AzuriteServer : IAsyncLifetime
{
    // The documented, public development-storage account that UseDevelopmentStorage=true stands for.
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("azurite-").FullName;
    private Process? _process;

    public int BlobPort { get; private set; }

    public int TablePort { get; private set; }

    /// <summary>A connection string for this Azurite; <paramref name="blobPort"/> points the blob endpoint elsewhere (a proxy).</summary>
    public string ConnectionString(int? blobPort = null) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{blobPort ?? BlobPort}/{AccountName};TableEndpoint=http://127.0.0.1:{TablePort}/{AccountName};";

    public async Task InitializeAsync()
    {
        var script = RepoFiles.PathOf("scripts", "azurite.sh");
        var install = await ProcessRunner.RunAsync("bash", [script, "--install"], RepoFiles.Root, TimeSpan.FromMinutes(8));
        if (install.ExitCode != 0)
        {
            throw new InvalidOperationException($"Installing Azurite failed: {install.Describe()}");
        }

        var ports = FreePorts(3);
        (BlobPort, TablePort) = (ports[0], ports[2]);
        _process = StartProcess(ports, _dataDirectory);
        // A hang bound: Node.js starting Azurite on two loaded cores (the suite, other builds) took over 60 s.
        await WaitUntilListeningAsync([BlobPort, TablePort], TimeSpan.FromSeconds(180));
    }

    public Task DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file Azurite still held; the temp folder is cleaned by the OS.
        }

        return Task.CompletedTask;
    }

    private async Task WaitUntilListeningAsync(int[] ports, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        foreach (var port in ports)
        {
            while (true)
            {
                if (_process!.HasExited)
                {
                    throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} before listening.");
                }

                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException) when (clock.Elapsed < timeout)
                {
                    await Task.Delay(Poll.RequestInterval);
                }
            }
        }
    }

    /// <summary>Runs scripts/azurite.sh on the given blob, queue and table ports with its data in <paramref name="dataDirectory"/>.</summary>
    public static Process StartProcess(int[] ports, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(ports);
        var startInfo = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepoFiles.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            RepoFiles.PathOf("scripts", "azurite.sh"),
            "--blob-port", ports[0].ToString(CultureInfo.InvariantCulture),
            "--queue-port", ports[1].ToString(CultureInfo.InvariantCulture),
            "--table-port", ports[2].ToString(CultureInfo.InvariantCulture),
            "--location", dataDirectory,
            "--", "--silent",
        })
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = Process.Start(startInfo)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static int[] FreePorts(int count)
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
}

/// <summary>Test classes that talk to Azurite: they share one instance and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class UsesAzurite : ICollectionFixture<AzuriteServer>
{
    public const string Name = "Azurite";
}
