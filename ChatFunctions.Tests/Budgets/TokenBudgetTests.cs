using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace ChatFunctions.Tests.Budgets;

public class TokenBudgetTests
{
    private static readonly CallerKey Alice = CallerKey.ForUser("tenant", "alice");
    private static readonly CallerKey Bob = CallerKey.ForAddress("203.0.113.7");

    private static IOptions<TokenBudgetOptions> Limit(long tokens) => Options.Create(new TokenBudgetOptions { TokensPerDay = tokens });

    [Fact]
    public async Task Spending_up_to_the_limit_refuses_the_next_request_until_the_next_UTC_midnight()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 21, 30, 0, TimeSpan.Zero));
        var budget = new InMemoryTokenBudget(Limit(100), time);

        Assert.True((await budget.CheckAsync(Alice, default)).Allowed);
        await budget.RecordAsync(Alice, 60, default);
        Assert.True((await budget.CheckAsync(Alice, default)).Allowed);
        await budget.RecordAsync(Alice, 40, default);
        var spent = await budget.CheckAsync(Alice, default);

        Assert.False(spent.Allowed);
        Assert.Equal(100, spent.Spent);
        Assert.Equal(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero), spent.ResetAt);
        Assert.True((await budget.CheckAsync(Bob, default)).Allowed);

        time.Advance(TimeSpan.FromMinutes(150) - TimeSpan.FromSeconds(1));
        Assert.False((await budget.CheckAsync(Alice, default)).Allowed);
        time.Advance(TimeSpan.FromSeconds(1));
        var tomorrow = await budget.CheckAsync(Alice, default);
        Assert.True(tomorrow.Allowed);
        Assert.Equal(0, tomorrow.Spent);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero), tomorrow.ResetAt);
    }

    [Fact]
    public void A_spent_budget_is_a_429_problem_with_Retry_After_to_midnight_and_resetAt()
    {
        var now = new DateTimeOffset(2026, 11, 25, 23, 59, 0, TimeSpan.Zero);
        var decision = new BudgetDecision(false, 120, 100, new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));

        var rejection = decision.ToRejection(now);

        Assert.Equal(StatusCodes.Status429TooManyRequests, rejection.Status);
        Assert.Equal("budget", rejection.Field);
        Assert.Equal(TimeSpan.FromMinutes(1), rejection.RetryAfter);
        Assert.Equal("2026-11-26T00:00:00Z", rejection.Extensions!["resetAt"]);
        Assert.Contains("100 tokens", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Rows_are_hashed_and_salted_by_day_so_no_address_is_stored_and_days_do_not_join()
    {
        var today = BudgetDay.RowKey("2026-11-25", Bob);
        var tomorrow = BudgetDay.RowKey("2026-11-26", Bob);

        Assert.Matches("^[0-9a-f]{64}$", today);
        Assert.DoesNotContain("203.0.113.7", today, StringComparison.Ordinal);
        Assert.NotEqual(today, tomorrow);
        Assert.Equal(today, BudgetDay.RowKey("2026-11-25", CallerKey.ForAddress("203.0.113.7")));
        Assert.NotEqual(today, BudgetDay.RowKey("2026-11-25", CallerKey.ForUser("203.0.113.7", "x")));
    }

    [Fact]
    public async Task Budgets_off_allow_everything()
    {
        var budget = new UnlimitedTokenBudget();
        await budget.RecordAsync(Alice, long.MaxValue, default);

        Assert.True((await budget.CheckAsync(Alice, default)).Allowed);
    }

    public static TheoryData<string, UsageDetails?, StreamFinishReason, int, long> Usages => new()
    {
        { "total as reported", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5, TotalTokenCount = 17 }, StreamFinishReason.Stop, 5, 17 },
        { "input + output without a total", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5 }, StreamFinishReason.Stop, 5, 15 },
        // System prompt 8 + message 7 + history 5 = 20 characters = 5 tokens, plus one a chunk.
        { "estimate: client left before the usage chunk", null, StreamFinishReason.Cancelled, 9, 14 },
        { "estimate: empty usage", new UsageDetails(), StreamFinishReason.Length, 2, 7 },
        { "failed before the first chunk", null, StreamFinishReason.Error, 0, 0 },
        { "failed mid-stream", null, StreamFinishReason.Error, 3, 8 },
    };

    [Theory]
    [MemberData(nameof(Usages))]
    public void Tokens_to_record_come_from_the_model_report_else_an_estimate(string why, UsageDetails? usage, StreamFinishReason finish, int chunks, long expected)
    {
        var request = new ChatRequest("message", [new ChatTurn(ChatTurnRole.User, "hello")]);
        var summary = new StreamSummary(finish, usage, null, 0, TimeSpan.FromSeconds(1), chunks);

        Assert.True(expected == TokenUsage.ToRecord(request, "system!!", summary), why);
    }

    [Fact]
    public void The_store_is_chosen_at_registration()
    {
        Assert.IsType<UnlimitedTokenBudget>(Build(new() { ["CHAT_TOKEN_BUDGET_PER_DAY"] = "0", ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true" }));
        Assert.IsType<InMemoryTokenBudget>(Build(new() { ["CHAT_TOKEN_BUDGET_PER_DAY"] = "1000" }));
        Assert.IsType<TableTokenBudget>(Build(new() { ["CHAT_TOKEN_BUDGET_PER_DAY"] = "1000", ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true" }));

        static ITokenBudget Build(Dictionary<string, string?> settings)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
            ChatFunctions.Hosting.ServiceCollectionExtensions.AddChatFunctions(services, configuration);
            services.AddSingleton(new Mock<TokenCredential>().Object);
            using var provider = services.BuildServiceProvider();
            return provider.GetRequiredService<ITokenBudget>();
        }
    }

    [Fact]
    public async Task A_storage_outage_fails_open_logged_and_counted()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var service = new TableServiceClient(
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteServer.AccountKey};TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
            TableTokenBudget.ClientOptions());
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = meters.GetRequiredService<IMeterFactory>();
        var operations = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "chatfunctions.budget.store_errors" && instrument.Meter.Scope == factory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            lock (operations)
            {
                operations.Add((string)tags.ToArray().Single(t => t.Key == "chatfunctions.budget.operation").Value!);
            }
        });
        listener.Start();
        var budget = new TableTokenBudget(service, Limit(10), TimeProvider.System, new TokenBudgetMetrics(factory), NullLogger<TableTokenBudget>.Instance);

        var decision = await budget.CheckAsync(Alice, default);
        await budget.RecordAsync(Alice, 50, default);

        Assert.True(decision.Allowed);
        Assert.Equal(["check", "record"], operations);
    }

    [Fact]
    [Trait("Category", "Http")]
    public async Task Over_HTTP_a_spent_budget_answers_429_with_errors_budget_Retry_After_and_resetAt()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_TOKEN_BUDGET_PER_DAY"] = "30" });

        SseClient.AssertWellFormed(await SseClient.ReadAllAsync(app.Client, SseClient.Post("hi [demo:tokens=40]")));
        using var response = await app.Client.SendAsync(SseClient.Post("more"));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        var resetAt = DateTimeOffset.Parse(problem["resetAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.Zero, resetAt.TimeOfDay);
        Assert.Equal(DateTimeOffset.UtcNow.UtcDateTime.Date.AddDays(1), resetAt.UtcDateTime);
        var retryAfter = response.Headers.RetryAfter!.Delta!.Value;
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Assert.InRange((resetAt - DateTimeOffset.UtcNow - retryAfter).Duration(), TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Assert.Contains("spent", problem["errors"]!["budget"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
