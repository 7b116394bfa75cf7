using Azure.Core;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.Wire;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Streaming;

/// <summary>The app prepares the first reply's path to the model while it starts (ModelWarmUp), against the fake.</summary>
public sealed class ModelWarmUpTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Before_any_request_the_token_is_fetched_and_the_models_connection_opened_and_the_first_reply_reuses_it()
    {
        var credential = new RecordingCredential("warm-up-token");
        await using var host = await WireHost.StartAsync(
            new Dictionary<string, string?> { ["AZURE_OPENAI_API_KEY"] = null },
            services => services.AddSingleton<TokenCredential>(credential));

        await host.App.Services.GetRequiredService<ModelWarmUp>().Completion.WaitAsync(Wait);

        Assert.Equal([ModelWarmUp.AzureOpenAIScope], Assert.Single(credential.RequestedScopes));
        var warmUp = Assert.Single(host.Fake.Seen);
        Assert.Equal(("HEAD", "/", false), (warmUp.Method, warmUp.Path, warmUp.CarriedCredentials));
        Assert.Empty(host.Fake.Requests);

        using var cts = WireHost.Timeout();
        var frames = await host.StreamAsync("hello", null, cts.Token);

        FrameAssert.Done(frames[^1], "stop");
        var reply = Assert.Single(host.Fake.Requests);
        Assert.Equal(warmUp.ConnectionId, reply.ConnectionId);
        Assert.Equal("Bearer warm-up-token", reply.Headers["Authorization"]);
    }

    [Fact]
    public async Task With_a_key_no_token_is_fetched_and_the_warm_up_request_carries_no_credentials()
    {
        var credential = new RecordingCredential("warm-up-token");
        await using var host = await WireHost.StartAsync(configureServices: services => services.AddSingleton<TokenCredential>(credential));

        await host.App.Services.GetRequiredService<ModelWarmUp>().Completion.WaitAsync(Wait);

        Assert.Empty(credential.RequestedScopes);
        var warmUp = Assert.Single(host.Fake.Seen);
        Assert.Equal(("HEAD", false), (warmUp.Method, warmUp.CarriedCredentials));
        Assert.Empty(host.Fake.Requests);
    }

    [Fact]
    public async Task A_model_that_cannot_be_reached_at_start_costs_a_log_line_and_the_app_still_serves()
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["AZURE_OPENAI_ENDPOINT"] = "http://127.0.0.1:9/" });

        await host.App.Services.GetRequiredService<ModelWarmUp>().Completion.WaitAsync(Wait);

        await host.Logs.WaitForAsync(e => e.Message.Contains("Warming up the model's path failed (HttpRequestException)", StringComparison.Ordinal), Wait);
        using var health = await host.App.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
        Assert.True(health.IsSuccessStatusCode);
    }

    [Fact]
    public async Task The_demo_model_needs_no_warm_up()
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["CHAT_PROVIDER"] = "Demo", ["CHAT_DEMO_ENABLED"] = "true" });

        await host.App.Services.GetRequiredService<ModelWarmUp>().Completion.WaitAsync(Wait);

        Assert.Empty(host.Fake.Seen);
    }
}
