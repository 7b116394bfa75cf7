using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// scripts/azurite.sh starts the storage emulator that local.settings.json's AzureWebJobsStorage=UseDevelopmentStorage=true
/// points the Functions host at. The test installs Azurite from npm into .tools/ on its first run, starts it on free
/// ports, does what the host does first (authenticate with the well-known development key and create a container),
/// and stops it.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class AzuriteTests : IDisposable
{
    // The documented, public development-storage account that UseDevelopmentStorage=true stands for.
    private const string Account = AzuriteServer.AccountName;
    private const string AccountKey = AzuriteServer.AccountKey;
    private const string ApiVersion = "2021-08-06";

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("azurite-test-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private Process? _azurite;

    [Fact]
    public async Task AzuriteScript_Check_FailsWhenNothingListens()
    {
        var port = FreePorts(1)[0];

        var result = await ProcessRunner.RunAsync("bash", [Script, "--check", "--blob-port", port.ToString(CultureInfo.InvariantCulture)], RepoFiles.Root, TimeSpan.FromSeconds(30));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not answering", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AzuriteScript_StartsTheEmulator_ThatAcceptsTheDevelopmentStorageAccount()
    {
        var install = await ProcessRunner.RunAsync("bash", [Script, "--install"], RepoFiles.Root, TimeSpan.FromMinutes(8));
        Assert.True(install.ExitCode == 0, install.Describe());

        var ports = FreePorts(3);
        var blob = ports[0];
        _azurite = StartAzurite(ports);

        var server = await WaitForBlobEndpointAsync(blob, TimeSpan.FromSeconds(60));
        Assert.StartsWith("Azurite-Blob/", server, StringComparison.Ordinal);

        var check = await ProcessRunner.RunAsync("bash", [Script, "--check", "--blob-port", blob.ToString(CultureInfo.InvariantCulture)], RepoFiles.Root, TimeSpan.FromSeconds(30));
        Assert.True(check.ExitCode == 0, check.Describe());

        // What the Functions host does with UseDevelopmentStorage=true: Shared Key requests as devstoreaccount1.
        var container = $"azure-webjobs-hosts-{Guid.NewGuid():N}"[..40];
        using (var create = Signed(HttpMethod.Put, blob, $"/{Account}/{container}", "restype=container"))
        using (var created = await _http.SendAsync(create))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using var list = Signed(HttpMethod.Get, blob, $"/{Account}", "comp=list");
        using var listed = await _http.SendAsync(list);
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Contains($"<Name>{container}</Name>", await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Queue and table endpoints are up too (the host uses both for some triggers).
        foreach (var port in ports[1..])
        {
            using var probe = await _http.GetAsync(new Uri($"http://127.0.0.1:{port}/{Account}"));
            Assert.StartsWith("Azurite-", probe.Headers.Server.ToString(), StringComparison.Ordinal);
        }

        Assert.True(Directory.EnumerateFileSystemEntries(_dataDirectory).Any(), "Azurite wrote nothing to its data folder.");
    }

    public void Dispose()
    {
        if (_azurite is { } process)
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

        _http.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file Azurite still held; the temp folder is cleaned by the OS.
        }
    }

    private static string Script => RepoFiles.PathOf("scripts", "azurite.sh");

    private Process StartAzurite(int[] ports) => AzuriteServer.StartProcess(ports, _dataDirectory);

    private async Task<string> WaitForBlobEndpointAsync(int port, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < timeout)
        {
            if (_azurite!.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {_azurite.ExitCode} before answering.");
            }

            try
            {
                using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{port}/{Account}?comp=list"));
                return response.Headers.Server.ToString();
            }
            catch (HttpRequestException e)
            {
                last = e;
            }
            catch (TaskCanceledException e)
            {
                last = e;
            }

            await Task.Delay(Poll.RequestInterval);
        }

        throw new TimeoutException($"Azurite did not answer on port {port} within {timeout}: {last?.Message}");
    }

    /// <summary>A request signed with Shared Key, as the storage SDKs sign it for the emulator's path-style URLs.</summary>
    private static HttpRequestMessage Signed(HttpMethod method, int port, string path, string query)
    {
        var request = new HttpRequestMessage(method, new Uri($"http://127.0.0.1:{port}{path}?{query}"));
        if (method == HttpMethod.Put)
        {
            request.Content = new ByteArrayContent([]);
        }

        var date = DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture);
        request.Headers.Add("x-ms-date", date);
        request.Headers.Add("x-ms-version", ApiVersion);

        var canonicalQuery = string.Join('\n', query.Split('&').Select(p => p.Split('=')).OrderBy(p => p[0], StringComparer.Ordinal).Select(p => $"{p[0]}:{p[1]}"));
        var stringToSign =
            $"{method.Method}\n" + new string('\n', 11) +
            $"x-ms-date:{date}\nx-ms-version:{ApiVersion}\n" +
            $"/{Account}{path}\n{canonicalQuery}";
        var signature = Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(AccountKey), Encoding.UTF8.GetBytes(stringToSign)));
        request.Headers.TryAddWithoutValidation("Authorization", $"SharedKey {Account}:{signature}");
        return request;
    }

    private static int[] FreePorts(int count) => AzuriteServer.FreePorts(count);
}
