using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;

namespace ChatFunctions.Tests.Health;

/// <summary>Liveness (/api/health) checks nothing beyond the process; readiness (/api/health/ready) checks that storage
/// (Azurite here) and the model (the fake Azure OpenAI) answer, and names what does not.</summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Http")]
public sealed class ReadinessTests
{
    private static readonly Uri Ready = new("/api/health/ready", UriKind.Relative);
    private static readonly Uri Live = new("/api/health", UriKind.Relative);

    [Fact]
    public async Task With_storage_and_the_model_answering_the_app_is_ready_and_says_which_checks_ran()
    {
        var azurite = new AzuriteServer();
        await azurite.InitializeAsync();
        try
        {
            // Budgets on: their table is probed too.
            await using var host = await WireHost.StartAsync(new Dictionary<string, string?>
            {
                ["AzureWebJobsStorage"] = azurite.ConnectionString(),
                ["CHAT_TOKEN_BUDGET_PER_DAY"] = "100000",
            });

            using var response = await host.App.Client.GetAsync(Ready);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ready", body["status"]!.GetValue<string>());
            Assert.Equal(["model", "storage"], body["checks"]!.AsObject().Select(c => c.Key).Order());
        }
        finally
        {
            await azurite.DisposeAsync();
        }
    }

    [Fact]
    public async Task With_storage_down_readiness_is_a_503_problem_naming_storage_while_liveness_stays_200()
    {
        var azurite = new AzuriteServer();
        await azurite.InitializeAsync();
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["AzureWebJobsStorage"] = azurite.ConnectionString() });
        await azurite.DisposeAsync();

        using var ready = await host.App.Client.GetAsync(Ready);
        using var live = await host.App.Client.GetAsync(Live);

        var errors = await AssertNotReadyAsync(ready);
        Assert.Equal(["storage"], errors.Select(e => e.Key));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task With_the_model_unreachable_readiness_is_a_503_problem_naming_the_model()
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["AZURE_OPENAI_ENDPOINT"] = $"http://127.0.0.1:{ClosedPort()}/" });

        using var ready = await host.App.Client.GetAsync(Ready);

        var errors = await AssertNotReadyAsync(ready);
        Assert.Equal(["model"], errors.Select(e => e.Key));
        Assert.Contains("does not answer", errors["model"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static async Task<JsonObject> AssertNotReadyAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(503, problem["status"]!.GetValue<int>());
        return problem["errors"]!.AsObject();
    }

    private static int ClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
