using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;

namespace ChatFunctions.Tests.Wire;

/// <summary>The OpenAI-compatible provider (how Ollama, Foundry Local and LM Studio are reached) against a local server over plain http.</summary>
[Trait("Category", "Wire")]
public sealed class OpenAICompatibleTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("local-key")]
    public async Task A_local_http_server_streams_through_the_OpenAI_client(string? apiKey)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        var settings = new Dictionary<string, string>
        {
            ["CHAT_PROVIDER"] = "Auto",
            ["OPENAI_BASE_URL"] = new Uri(fake.Endpoint, "v1").ToString(),
            ["OPENAI_MODEL"] = "llama3.2",
            ["CHAT_SYSTEM_PROMPT"] = "Be brief.",
        };
        if (apiKey is not null)
        {
            settings["OPENAI_API_KEY"] = apiKey;
        }

        await using var app = await AppServer.StartAsync(settings);

        var frames = await SseClient.ReadAllAsync(app.Client, SseClient.Post("hi"));

        SseClient.AssertWellFormed(frames);
        Assert.Equal("openai-compatible", frames[0].Data["meta"]!["provider"]!.GetValue<string>());
        Assert.Equal("llama3.2", frames[0].Data["meta"]!["model"]!.GetValue<string>());
        Assert.Equal("Hello from the fake model.", SseClient.Text(frames));
        Assert.Equal("stop", frames[^1].Data["finishReason"]!.GetValue<string>());

        var request = Assert.Single(fake.Requests);
        Assert.StartsWith("/v1/chat/completions", request.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal("llama3.2", request.Body["model"]!.GetValue<string>());
        Assert.Equal("system", request.Body["messages"]![0]!["role"]!.GetValue<string>());
        Assert.True(request.Body["stream"]!.GetValue<bool>());
        if (apiKey is not null)
        {
            Assert.Equal($"Bearer {apiKey}", request.Headers["Authorization"]);
        }
    }
}
