using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using ChatFunctions.Titles;
using FakeAzureOpenAI;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Titles;

/// <summary>POST /api/chat/title against the real app, with Azure OpenAI played by the fake server.</summary>
[Trait("Category", "Http")]
public sealed class TitleEndpointTests
{
    private const string Message = "How do I reverse a list in Python without copying it?";
    private const string Reply = "Use list.reverse(), which reverses in place.";

    private static Dictionary<string, string> AzureSettings(FakeAzureOpenAIServer fake) => new()
    {
        ["CHAT_PROVIDER"] = "AzureOpenAI",
        ["AZURE_OPENAI_ENDPOINT"] = fake.Endpoint.ToString(),
        ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "gpt-4o-mini",
        ["AZURE_OPENAI_API_KEY"] = "test-key",
    };

    [Fact]
    public async Task A_title_comes_from_one_short_model_call_sanitized_to_a_plain_line_and_charged_to_the_callers_budget()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FakeScript.Reply("**\"Reversing ", "a Python ", "list in place.\"**", "\nExtra line") with { PromptTokens = 61 };
        var settings = AzureSettings(fake);
        settings["CHAT_TOKEN_BUDGET_PER_DAY"] = "100000";
        settings["CHAT_TITLE_MAX_OUTPUT_TOKENS"] = "40";
        var logs = new CapturedLogs();
        await using var app = await AppServer.StartAsync(settings, logs.Register);

        using var response = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.True(response.Headers.Contains("X-Content-Type-Options"));
        var title = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["title"]!.GetValue<string>();
        Assert.Equal("Reversing a Python list in place", title);

        // The exact request: the title instructions, the first exchange as turns, then the question, with the title's
        // output limit.
        var sent = Assert.Single(fake.Requests).Body;
        Assert.Equal(40, sent["max_completion_tokens"]!.GetValue<int>());
        var messages = sent["messages"]!.AsArray();
        Assert.Equal(["system", "user", "assistant", "user"], messages.Select(m => m!["role"]!.GetValue<string>()));
        Assert.Contains(Message, messages[1]!["content"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains(Reply, messages[2]!["content"]!.ToJsonString(), StringComparison.Ordinal);

        // Settled to the model's own count: 61 prompt tokens plus the 4 streamed tokens.
        var budget = (InMemoryTokenBudget)app.Services.GetRequiredService<ITokenBudget>();
        Assert.Equal(61 + 4, budget.SpentToday(CallerKey.ForAddress("127.0.0.1")));

        // Neither the message, the reply nor the title reaches a log.
        foreach (var text in logs.Entries.SelectMany(e => e.AllText()))
        {
            Assert.DoesNotContain("reverse a list", text, StringComparison.Ordinal);
            Assert.DoesNotContain("list.reverse", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Reversing a Python", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_spent_budget_refuses_the_title_with_429_before_the_model_is_called()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        var settings = AzureSettings(fake);
        // The worst case (about 60 input tokens plus 48 of output) cannot fit in 50.
        settings["CHAT_TOKEN_BUDGET_PER_DAY"] = "50";
        await using var app = await AppServer.StartAsync(settings);

        using var response = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });

        await AssertProblemAsync(response, HttpStatusCode.TooManyRequests, "budget");
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task The_demo_model_names_the_chat_after_the_first_message_without_its_markers()
    {
        await using var app = await AppServer.StartAsync();

        using var response = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = "[demo:think=1] explain quantum tunnelling like I'm five please", reply = "Imagine a ball..." });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Explain quantum tunnelling like I'm five", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_model_failure_is_a_502_problem_naming_the_model_so_the_page_keeps_its_fallback()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FakeScript.Failure(400);
        await using var app = await AppServer.StartAsync(AzureSettings(fake));

        using var response = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });

        await AssertProblemAsync(response, HttpStatusCode.BadGateway, "model");
    }

    [Fact]
    public async Task An_answer_with_no_usable_title_is_a_502_problem()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FakeScript.Reply("**", " \"\"", "\n...");
        await using var app = await AppServer.StartAsync(AzureSettings(fake));

        using var response = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });

        await AssertProblemAsync(response, HttpStatusCode.BadGateway, "model");
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { "{\"reply\":\"r\"}", "message" },
        { "{\"message\":\"  \",\"reply\":\"r\"}", "message" },
        { "{\"message\":\"m\"}", "reply" },
        { "{\"message\":\"m\",\"reply\":\"\"}", "reply" },
        { "{\"message\":5,\"reply\":\"r\"}", "message" },
        { "{\"message\":\"m\",\"reply\":[]}", "reply" },
        { "{\"message\":\"m\",", "body" },
        { "[1,2]", "body" },
        { "", "body" },
        { "{\"message\":\"m\",\"reply\":\"" + new string('r', TitleService.MaxReplyChars + 1) + "\"}", "reply" },
        { "{\"message\":\"" + new string('m', 8_001) + "\",\"reply\":\"r\"}", "message" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_input_is_a_400_problem_naming_the_field_and_never_reaches_the_model(string body, string field)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        await using var app = await AppServer.StartAsync(AzureSettings(fake));

        using var response = await app.Client.PostAsync("/api/chat/title", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_415_and_one_past_the_size_limit_is_413()
    {
        await using var app = await AppServer.StartAsync();

        using var text = await app.Client.PostAsync("/api/chat/title", new StringContent("message=hi", Encoding.UTF8, "text/plain"));
        using var huge = await app.Client.PostAsync("/api/chat/title", new StringContent(new string(' ', 200_000), Encoding.UTF8, "application/json"));

        await AssertProblemAsync(text, HttpStatusCode.UnsupportedMediaType, "content-type");
        await AssertProblemAsync(huge, HttpStatusCode.RequestEntityTooLarge, "body");
    }

    [Fact]
    public async Task With_sign_in_on_an_anonymous_title_request_is_401_like_the_chat()
    {
        await using var authority = await TestAuthority.StartAsync();
        await using var app = await AppServer.StartAsync(authority.Settings());

        using var anonymous = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });
        using var signedIn = new HttpRequestMessage(HttpMethod.Post, "/api/chat/title") { Content = JsonContent.Create(new { message = Message, reply = Reply }) };
        signedIn.Headers.Authorization = new("Bearer", TestAuthority.Mint(authority.UserToken()));
        using var allowed = await app.Client.SendAsync(signedIn);

        await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, "Authorization");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task The_rate_limit_of_the_chat_applies_to_titles()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_RATE_LIMIT_PER_MINUTE"] = "1" });

        using var first = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });
        using var second = await app.Client.PostAsJsonAsync("/api/chat/title", new { message = Message, reply = Reply });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await AssertProblemAsync(second, HttpStatusCode.TooManyRequests, "client");
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"The problem names {string.Join(", ", problem["errors"]!.AsObject().Select(e => e.Key))}, not {field}: {body}");
    }
}
