using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Http;
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
    public async Task Reservations_never_take_the_day_past_the_limit_and_settle_to_the_real_spend_until_the_next_UTC_midnight()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 21, 30, 0, TimeSpan.Zero));
        var budget = new InMemoryTokenBudget(Limit(100), time);

        var first = await budget.ReserveAsync(Alice, 60, default);
        var second = await budget.ReserveAsync(Alice, 41, default);
        Assert.Equal(BudgetOutcome.Reserved, first.Outcome);
        Assert.Equal(BudgetOutcome.Spent, second.Outcome);
        Assert.Equal(60, second.Spent);
        Assert.Equal(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero), second.ResetAt);

        await budget.SettleAsync(first, 20, default);
        Assert.Equal(20, budget.SpentToday(Alice));
        Assert.Equal(BudgetOutcome.Reserved, (await budget.ReserveAsync(Alice, 80, default)).Outcome);
        Assert.Equal(BudgetOutcome.Spent, (await budget.ReserveAsync(Alice, 1, default)).Outcome);
        Assert.Equal(BudgetOutcome.Reserved, (await budget.ReserveAsync(Bob, 100, default)).Outcome);

        time.Advance(TimeSpan.FromMinutes(150) - TimeSpan.FromSeconds(1));
        Assert.Equal(BudgetOutcome.Spent, (await budget.ReserveAsync(Alice, 1, default)).Outcome);
        time.Advance(TimeSpan.FromSeconds(1));
        var tomorrow = await budget.ReserveAsync(Alice, 100, default);
        Assert.Equal(BudgetOutcome.Reserved, tomorrow.Outcome);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero), tomorrow.ResetAt);
    }

    [Fact]
    public async Task Concurrent_reservations_in_memory_admit_exactly_what_fits()
    {
        var budget = new InMemoryTokenBudget(Limit(1_000), TimeProvider.System);

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() => budget.ReserveAsync(Alice, 30, default).AsTask())));

        Assert.Equal(1_000 / 30, results.Count(r => r.Outcome == BudgetOutcome.Reserved));
        Assert.Equal(1_000 / 30 * 30, budget.SpentToday(Alice));
    }

    [Fact]
    public void A_spent_budget_is_a_429_problem_with_Retry_After_to_midnight_and_resetAt()
    {
        var now = new DateTimeOffset(2026, 11, 25, 23, 59, 0, TimeSpan.Zero);
        var refused = new BudgetReservation(BudgetOutcome.Spent, Alice, "2026-11-25", 0, 80, 100, new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));

        var rejection = refused.ToSpentRejection(1_050, now);

        Assert.Equal(StatusCodes.Status429TooManyRequests, RequestRejection.StatusOf(rejection.Kind));
        Assert.Equal("budget", rejection.Field);
        Assert.Equal(TimeSpan.FromMinutes(1), rejection.RetryAfter);
        Assert.Equal("2026-11-26T00:00:00Z", rejection.Extensions!["resetAt"]);
        Assert.Contains("(100 tokens)", rejection.Detail, StringComparison.Ordinal);
        Assert.Contains("80 are spent or reserved", rejection.Detail, StringComparison.Ordinal);
        Assert.Contains("may need 1,050", rejection.Detail, StringComparison.Ordinal);
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
        var reservation = await budget.ReserveAsync(Alice, long.MaxValue, default);
        await budget.SettleAsync(reservation, long.MaxValue, default);

        Assert.Equal(BudgetOutcome.Unlimited, (await budget.ReserveAsync(Alice, long.MaxValue, default)).Outcome);
    }

    [Fact]
    public void Caller_keys_ignore_letter_case_as_the_identities_do()
    {
        Assert.Equal(CallerKey.ForUser("72F988BF-86F1-41AF-91AB-2D7CD011DB47", "ABC-def"), CallerKey.ForUser("72f988bf-86f1-41af-91ab-2d7cd011db47", "abc-DEF"));
        Assert.Equal(CallerKey.ForAddress("2001:DB8::"), CallerKey.ForAddress("2001:db8::"));
        Assert.Equal(BudgetDay.RowKey("2026-11-25", CallerKey.ForUser("T", "O")), BudgetDay.RowKey("2026-11-25", CallerKey.ForUser("t", "o")));
    }

    public static TheoryData<string, UsageDetails?, StreamFinishReason, int, long?> Usages => new()
    {
        { "total as reported", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5, TotalTokenCount = 17 }, StreamFinishReason.Stop, 5, 17 },
        { "input + output without a total", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5 }, StreamFinishReason.Stop, 5, 15 },
        // Null: the prompt as counted for the reservation, plus one a chunk.
        { "estimate: client left before the usage chunk", null, StreamFinishReason.Cancelled, 9, null },
        { "estimate: empty usage", new UsageDetails(), StreamFinishReason.Length, 2, null },
        { "failed before the first chunk", null, StreamFinishReason.Error, 0, 0 },
        { "failed mid-stream", null, StreamFinishReason.Error, 3, null },
    };

    [Theory]
    [MemberData(nameof(Usages))]
    public void Tokens_to_settle_come_from_the_model_report_else_the_counted_prompt_and_the_chunks(string why, UsageDetails? usage, StreamFinishReason finish, int chunks, long? expected)
    {
        var request = new ChatRequest("message", [new ChatTurn(ChatTurnRole.User, "hello")]);
        var summary = new StreamSummary(finish, usage, null, 0, TimeSpan.FromSeconds(1), chunks);

        Assert.True((expected ?? InputTokens.Count(request, "system!!") + chunks) == TokenUsage.ToRecord(request, "system!!", summary), why);
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

    public static TheoryData<string, Exception, BudgetStoreFailureKind> Failures => new()
    {
        { "wrong key", new RequestFailedException(403, "Server failed to authenticate the request.", "AuthenticationFailed", null), BudgetStoreFailureKind.Permanent },
        { "no role assignment", new RequestFailedException(403, "denied", "AuthorizationPermissionMismatch", null), BudgetStoreFailureKind.Permanent },
        { "unauthenticated", new RequestFailedException(401, "no", null, null), BudgetStoreFailureKind.Permanent },
        { "missing table", new RequestFailedException(404, "no table", "TableNotFound", null), BudgetStoreFailureKind.Permanent },
        { "no credential", new CredentialUnavailableException("no managed identity"), BudgetStoreFailureKind.Permanent },
        { "credential refused", new AuthenticationFailedException("refused"), BudgetStoreFailureKind.Permanent },
        { "malformed key", new FormatException("not base64"), BudgetStoreFailureKind.Permanent },
        { "server error", new RequestFailedException(500, "oops", "InternalError", null), BudgetStoreFailureKind.Transient },
        { "busy", new RequestFailedException(503, "busy", "ServerBusy", null), BudgetStoreFailureKind.Transient },
        { "timeout", new RequestFailedException(408, "slow", "OperationTimedOut", null), BudgetStoreFailureKind.Transient },
        { "connection refused", new RequestFailedException("connection refused", new HttpRequestException()), BudgetStoreFailureKind.Transient },
        { "client timeout", new TaskCanceledException(), BudgetStoreFailureKind.Transient },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Store_failures_are_sorted_by_status_and_error_code(string why, Exception exception, BudgetStoreFailureKind expected)
    {
        Assert.True(expected == BudgetStoreFailures.Classify(exception), why);
    }

    [Theory]
    [InlineData(TransientBudgetStorePolicy.Refuse, 503)]
    [InlineData(TransientBudgetStorePolicy.Allow, 0)]
    public async Task An_unreachable_store_is_transient_and_follows_the_policy_with_a_metric(TransientBudgetStorePolicy policy, int expectedStatus)
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
        var errors = new List<string>();
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
            lock (errors)
            {
                var all = tags.ToArray();
                errors.Add($"{all.Single(t => t.Key == "chatfunctions.budget.operation").Value}/{all.Single(t => t.Key == "error.type").Value}");
            }
        });
        listener.Start();
        var options = Options.Create(new TokenBudgetOptions { TokensPerDay = 10_000, TransientStoreErrors = policy });
        var budget = new TableTokenBudget(service, options, TimeProvider.System, new TokenBudgetMetrics(factory), NullLogger<TableTokenBudget>.Instance);
        var gate = new SpendGate(budget, new OpenReplies(options), options, Options.Create(new ChatServiceOptions()), TimeProvider.System, NullLogger<SpendGate>.Instance);

        var admission = await gate.AdmitAsync(Alice, new ChatRequest("hi", []), default);

        Assert.Equal(expectedStatus, admission.Rejection is { } refused ? RequestRejection.StatusOf(refused.Kind) : 0);
        Assert.Equal(["reserve/transient"], errors);
        if (admission.Rejection is { } rejection)
        {
            Assert.Equal("budget", rejection.Field);
            Assert.Equal(SpendGate.RetryAfter, rejection.RetryAfter);
        }
        else
        {
            Assert.Equal(BudgetOutcome.StoreUnavailable, admission.Spend!.Reservation.Outcome);
            Assert.Equal(0, admission.Spend.Reservation.Tokens);
        }
    }

    [Fact]
    public async Task The_worst_case_reserved_is_the_input_counted_by_the_tokenizer_plus_the_output_limit()
    {
        var budget = new InMemoryTokenBudget(Limit(1_000_000), TimeProvider.System);
        var options = Options.Create(new TokenBudgetOptions { TokensPerDay = 1_000_000 });
        var chat = new ChatServiceOptions { SystemPrompt = "You are terse.", MaxOutputTokens = 500 };
        var gate = new SpendGate(budget, new OpenReplies(options), options, Options.Create(chat), TimeProvider.System, NullLogger<SpendGate>.Instance);
        // o200k_base: "You are terse." is 4 tokens, "hello world" 2, "hi" 1; 3 messages of framing.
        var request = new ChatRequest("hello world", [new ChatTurn(ChatTurnRole.User, "hi")]);

        var admission = await gate.AdmitAsync(Alice, request, default);

        Assert.Equal(InputTokens.PerRequest + (3 * InputTokens.PerMessage) + 4 + 2 + 1 + 500, admission.Spend!.Reservation.Tokens);
    }

    [Fact]
    public async Task A_caller_past_their_open_replies_gets_a_429_naming_why_until_one_settles()
    {
        var options = Options.Create(new TokenBudgetOptions { MaxOpenRepliesPerCaller = 2 });
        var open = new OpenReplies(options);
        var gate = new SpendGate(new UnlimitedTokenBudget(), open, options, Options.Create(new ChatServiceOptions()), TimeProvider.System, NullLogger<SpendGate>.Instance);
        var request = new ChatRequest("hi", []);

        var first = await gate.AdmitAsync(Alice, request, default);
        var second = await gate.AdmitAsync(Alice, request, default);
        var third = await gate.AdmitAsync(Alice, request, default);
        var bobs = await gate.AdmitAsync(Bob, request, default);

        Assert.Null(second.Rejection);
        Assert.Null(bobs.Rejection);
        Assert.Equal(RefusalKind.TooManyRequests, third.Rejection!.Kind);
        Assert.Equal("openReplies", third.Rejection.Field);
        Assert.Contains("2 replies open", third.Rejection.Detail, StringComparison.Ordinal);
        await first.Spend!.SettleAsync(10);
        await first.Spend.SettleAsync(10); // once only
        Assert.Equal(1, open.CountOf(Alice));
        Assert.Null((await gate.AdmitAsync(Alice, request, default)).Rejection);
    }

    [Fact]
    public async Task A_refused_reservation_gives_its_open_reply_slot_back()
    {
        var options = Options.Create(new TokenBudgetOptions { TokensPerDay = 10, MaxOpenRepliesPerCaller = 1 });
        var open = new OpenReplies(options);
        var gate = new SpendGate(new InMemoryTokenBudget(options, TimeProvider.System), open, options, Options.Create(new ChatServiceOptions()), TimeProvider.System, NullLogger<SpendGate>.Instance);

        var refused = await gate.AdmitAsync(Alice, new ChatRequest("hi", []), default);

        Assert.Equal("budget", refused.Rejection!.Field);
        Assert.Equal(0, open.CountOf(Alice));
    }

    [Fact]
    [Trait("Category", "Http")]
    public async Task Over_HTTP_a_spent_budget_answers_429_with_errors_budget_Retry_After_and_resetAt()
    {
        // The worst case of each request is about 40 input tokens (the system prompt, the message, framing) + 50 output.
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_TOKEN_BUDGET_PER_DAY"] = "120", ["CHAT_MAX_OUTPUT_TOKENS"] = "50" });

        SseClient.AssertWellFormed(await SseClient.ReadAllAsync(app.Client, SseClient.Post("hi [demo:tokens=40]")));
        var asked = DateTimeOffset.UtcNow;
        using var response = await app.Client.SendAsync(SseClient.Post("more"));
        var answered = DateTimeOffset.UtcNow;

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        var resetAt = DateTimeOffset.Parse(problem["resetAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.Zero, resetAt.TimeOfDay);
        Assert.Equal(DateTimeOffset.UtcNow.UtcDateTime.Date.AddDays(1), resetAt.UtcDateTime);
        var retryAfter = response.Headers.RetryAfter!.Delta!.Value;
        // The wait until the reset, taken between the request and its answer and rounded up to whole seconds.
        Assert.InRange(retryAfter, resetAt - answered, resetAt - asked + TimeSpan.FromSeconds(1));
        Assert.Contains("cannot cover this request", problem["errors"]!["budget"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
