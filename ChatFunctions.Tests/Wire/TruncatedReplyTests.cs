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
        var settings = Settings(provider, fake);
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

    public static TheoryData<Provider, string> CutsOfStreamsWithEventIds()
    {
        var data = new TheoryData<Provider, string>();
        foreach (var provider in Enum.GetValues<Provider>())
        {
            data.Add(provider, "the body ends");
            data.Add(provider, "the connection resets");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CutsOfStreamsWithEventIds))]
    public async Task A_reply_cut_mid_way_whose_events_carry_ids_is_told_as_cut_and_the_model_is_asked_once(Provider provider, string cut)
    {
        // With ids on the events, an SSE client that resumes by Last-Event-ID (System.ClientModel does, for a request
        // that accepts text/event-stream) would POST the prompt again, and the model service would answer with a new
        // reply spliced onto the first: text repeated, and spent twice.
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        // A reset waits until the three tokens reached the client: Kestrel's abort would drop unsent bytes.
        var threeChunksArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reply = FakeScript.Reply("One", " two", " three", " four", " five") with { EventIds = true };
        fake.DefaultScript = cut == "the body ends"
            ? reply with { EndAfterTokens = 3 }
            : reply with { ResetAfterTokens = 3, ResetTrigger = threeChunksArrived.Task };
        await using var app = await AppServer.StartAsync(Settings(provider, fake));
        using var cts = WireHost.Timeout();

        var frames = new List<ReceivedFrame>();
        using (var response = await SseClient.SendAsync(app.Client, SseClient.Post("hello"), cts.Token))
        {
            await foreach (var frame in SseClient.ReadFramesAsync(response, cts.Token))
            {
                frames.Add(frame);
                if (frames.Count(f => f.IsChunk) == 3)
                {
                    threeChunksArrived.TrySetResult();
                }
            }
        }

        SseClient.AssertWellFormed(frames);
        Assert.Equal("One two three", SseClient.Text(frames));
        FrameAssert.Error(frames[^2], cut == "the body ends" ? "incomplete" : "upstream_unavailable", retryable: true);
        FrameAssert.Done(frames[^1], "error");
        Assert.False(Assert.Single(fake.Requests).Headers.ContainsKey("Last-Event-ID"));
    }

    private static Dictionary<string, string> Settings(Provider provider, FakeAzureOpenAIServer fake)
    {
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

        return settings;
    }
}
