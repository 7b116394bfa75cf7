using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.Hosting;

/// <summary>`dotnet ChatFunctions.dll` as a user runs it: a separate process that must pick the standalone host by itself.</summary>
[Trait("Category", "Http")]
public class StandaloneProcessTests
{
    [Fact]
    public async Task TheBuiltApp_StartedDirectly_ServesTheChatStream()
    {
        var dll = RepoFiles.AppBuildOutput("ChatFunctions.dll");
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var name in new[] { "FUNCTIONS_WORKER_RUNTIME", "CHAT_HOST_MODE", "AZURE_OPENAI_ENDPOINT", "OPENAI_BASE_URL", "CHAT_PROVIDER" })
        {
            start.Environment.Remove(name);
        }

        start.Environment["DEMO_TOKEN_DELAY_MS"] = "1";
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await WaitForHealthAsync(client, process, output);

            var frames = await SseClient.ReadAllAsync(client, SseClient.Post("hi [demo:tokens=30]"));

            SseClient.AssertWellFormed(frames);
            Assert.Equal(30, frames.Count(f => f.IsChunk));
            lock (output)
            {
                Assert.Contains("Standalone host", output.ToString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static async Task WaitForHealthAsync(HttpClient client, Process process, System.Text.StringBuilder output)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(process.HasExited, $"the app exited: {output}");
            try
            {
                using var response = await client.GetAsync("/api/health");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(Poll.RequestInterval);
        }

        Assert.Fail($"the app did not answer /api/health within 30 s: {output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
