using System.Text.Json.Nodes;
using Azure.Core;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Wire;

/// <summary>What the real Azure.AI.OpenAI client, as the app configures it, puts on the wire.</summary>
[Trait("Category", "Wire")]
public sealed class AzureOpenAIRequestTests
{
    [Fact]
    public async Task The_request_carries_the_key_deployment_prompt_history_limits_and_streaming_options()
    {
        await using var host = await WireHost.StartAsync(new Dictionary<string, string?> { ["CHAT_TEMPERATURE"] = "0.25" });
        using var cts = WireHost.Timeout();
        var history = new[]
        {
            new { role = "user", content = "first question" },
            new { role = "assistant", content = "first answer" },
            new { role = "user", content = "second question" },
            new { role = "assistant", content = "second answer" },
        };

        var frames = await host.StreamAsync("the new question", history, cts.Token);

        SseClient.AssertWellFormed(frames);
        var request = Assert.Single(host.Fake.Requests);
        var pathAndQuery = request.PathAndQuery;
        Assert.StartsWith("/openai/deployments/chat-test/chat/completions?api-version=", pathAndQuery, StringComparison.Ordinal);
        Assert.Matches(@"^/openai/deployments/chat-test/chat/completions\?api-version=[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$", pathAndQuery);
        Assert.Equal("chat-test", request.Deployment);
        Assert.Equal("test-key", request.Headers["api-key"]);
        Assert.False(request.Headers.ContainsKey("Authorization"), "a key-authenticated request carries no bearer token");

        var body = request.Body;
        Assert.Equal("chat-test", body["model"]!.GetValue<string>());
        Assert.Equal(
            [
                ("system", WireHost.SystemPrompt),
                ("user", "first question"),
                ("assistant", "first answer"),
                ("user", "second question"),
                ("assistant", "second answer"),
                ("user", "the new question"),
            ],
            Messages(body));
        Assert.Equal(321, body["max_completion_tokens"]!.GetValue<int>());
        Assert.False(body.ContainsKey("max_tokens"), "only one of max_tokens and max_completion_tokens may be sent");
        Assert.Equal(0.25, body["temperature"]!.GetValue<double>(), 6);
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.True(body["stream_options"]!["include_usage"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Without_a_key_the_client_sends_a_bearer_token_for_the_cognitive_services_scope()
    {
        var credential = new RecordingCredential("fake-entra-token");
        await using var host = await WireHost.StartAsync(
            new Dictionary<string, string?> { ["AZURE_OPENAI_API_KEY"] = null },
            services => services.AddSingleton<TokenCredential>(credential));
        using var cts = WireHost.Timeout();

        var frames = await host.StreamAsync("hello", null, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Done(frames[^1], "stop");
        var request = Assert.Single(host.Fake.Requests);
        Assert.Equal("Bearer fake-entra-token", request.Headers["Authorization"]);
        Assert.False(request.Headers.ContainsKey("api-key"), "keyless requests carry no api-key header");
        Assert.NotEmpty(credential.RequestedScopes);
        // The scope ModelWarmUp fetches its token for at start, so that this first request finds it cached.
        Assert.All(credential.RequestedScopes, scopes => Assert.Equal([ModelWarmUp.AzureOpenAIScope], scopes));
        Assert.Equal("https://cognitiveservices.azure.com/.default", ModelWarmUp.AzureOpenAIScope);
    }

    /// <summary>(role, text) of each message; content may be a string or an array of text parts.</summary>
    internal static List<(string Role, string Text)> Messages(JsonObject body) =>
        body["messages"]!.AsArray().Select(m =>
        {
            var content = m!["content"]!;
            var text = content is JsonArray parts
                ? string.Concat(parts.Select(p =>
                {
                    Assert.Equal("text", p!["type"]!.GetValue<string>());
                    return p["text"]!.GetValue<string>();
                }))
                : content.GetValue<string>();
            return (m["role"]!.GetValue<string>(), text);
        }).ToList();
}
