using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// End to end: every way a model stream can end without the protocol's ending (finish_reason, then [DONE])
/// reaches the client as cut off (an error frame and finishReason "error"), never as "stop", and keeps the text
/// already sent, whichever provider the app talks to.
/// </summary>
[Trait("Category", "Wire")]
public sealed class TruncatedReplyTests
{
    public enum Provider
    {
        AzureOpenAI,

        /// <summary>Azure OpenAI with CHAT_API=responses: the Responses API's events, whose ending is response.completed.</summary>
        AzureOpenAIResponses,
        OpenAICompatible,
    }

    public static TheoryData<Provider, string> Cases()
    {
        var data = new TheoryData<Provider, string>();
        foreach (var provider in Enum.GetValues<Provider>())
        {
            foreach (var fault in new[] { "body ends after three tokens", "body ends after the finish reason, before [DONE]", "error object in the stream", "200 with an HTML page" })
            {
                data.Add(provider, fault);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_reply_cut_off_upstream_is_never_reported_complete_and_keeps_what_was_sent(Provider provider, string fault)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        var reply = FakeScript.Reply("One", " two", " three", " four", " five");
        fake.DefaultScript = fault switch
        {
            "body ends after three tokens" => reply with { EndAfterTokens = 3 },
            "body ends after the finish reason, before [DONE]" => reply with { EndAfterFinishReason = true },
            "error object in the stream" => reply with { StreamErrorAfterTokens = 3 },
            _ => reply with { NonStreamBody = "<html><body>502 Bad Gateway</body></html>" },
        };
        var settings = new Dictionary<string, string>
        {
            ["CHAT_RETRY_MAX_ATTEMPTS"] = "2",
            ["CHAT_RETRY_BUDGET_SECONDS"] = "5",
        };
        if (provider is Provider.AzureOpenAI or Provider.AzureOpenAIResponses)
        {
            settings["CHAT_API"] = provider == Provider.AzureOpenAIResponses ? "responses" : "chatCompletions";
            settings["CHAT_PROVIDER"] = "AzureOpenAI";
            settings["AZURE_OPENAI_ENDPOINT"] = fake.Endpoint.ToString();
            settings["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "chat";
            settings["AZURE_OPENAI_API_KEY"] = "test-key";
        }
        else
        {
            settings["CHAT_PROVIDER"] = "OpenAICompatible";
            settings["OPENAI_BASE_URL"] = new Uri(fake.Endpoint, "v1").ToString();
            settings["OPENAI_MODEL"] = "local-model";
        }

        await using var app = await AppServer.StartAsync(settings);
        using var cts = WireHost.Timeout();

        var frames = await SseClient.ReadAllAsync(app.Client, SseClient.Post("hello"), cts.Token);

        SseClient.AssertWellFormed(frames);
        var error = Assert.Single(frames, f => f.IsError).Data["error"]!;
        Assert.Equal("error", frames[^1].Data["finishReason"]!.GetValue<string>());
        Assert.True(error["retryable"]!.GetValue<bool>(), "sending again may work");
        var text = SseClient.Text(frames);
        switch (fault)
        {
            case "body ends after three tokens":
            case "error object in the stream":
                Assert.Equal("One two three", text);
                Assert.Equal(fault == "error object in the stream" ? "upstream_unavailable" : "incomplete", error["code"]!.GetValue<string>());
                Assert.Single(fake.Requests); // text was sent: never retried
                break;
            case "body ends after the finish reason, before [DONE]":
                Assert.Equal("One two three four five", text);
                Assert.Equal("incomplete", error["code"]!.GetValue<string>());
                break;
            default:
                Assert.Equal("", text);
                Assert.Equal("upstream_error", error["code"]!.GetValue<string>());
                Assert.Equal(2, fake.Requests.Count); // nothing was sent yet: retried within the budget
                break;
        }
    }
}
