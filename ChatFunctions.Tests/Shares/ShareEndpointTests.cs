using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using ChatFunctions.Shares;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Titles;
using ChatFunctions.Tests.Wire;

namespace ChatFunctions.Tests.Shares;

/// <summary>
/// /api/shares against the real app, its shares in Azurite's blobs, signed in through the fake authority.
/// </summary>
[Trait("Category", "Infrastructure")]
[Collection(UsesAzurite.Name)]
public sealed class ShareEndpointTests(AzuriteServer azurite) : SignedInEndpointTests(azurite)
{
    internal static string Snapshot(string conversationId, string title = "Trip to Lisbon ✈", string? messages = null) =>
        $$"""{"conversationId":"{{conversationId}}","title":"{{title}}","messages":{{messages ?? """[{"role":"user","content":"Where should I eat?","reasoning":"secret"},{"role":"assistant","content":"**Time Out Market**, then <img src=x onerror=alert(1)>","reasoning":"private thoughts","metrics":{"outputTokens":9}}]"""}}}""";

    private static HttpRequestMessage Request(HttpMethod method, string path, string? user, string? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (user is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? user, string? body = null, AppServer? app = null)
    {
        using var request = Request(method, path, user, body);
        return await (app ?? App).Client.SendAsync(request);
    }

    private async Task<JsonNode> CreateAsync(string user, string? body = null, AppServer? app = null)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/shares", user, body ?? Snapshot(Guid.NewGuid().ToString()), app);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var share = JsonNode.Parse(text)!;
        Assert.Equal($"/api/shares/{share["id"]!.GetValue<string>()}", response.Headers.Location!.OriginalString);
        return share;
    }

    [Fact]
    public async Task A_share_is_read_without_a_token_and_holds_only_the_title_and_the_messages_as_shown()
    {
        var alice = NewUser();
        var conversationId = Guid.NewGuid().ToString();

        var share = await CreateAsync(alice, Snapshot(conversationId));
        var id = share["id"]!.GetValue<string>();
        using var read = await SendAsync(HttpMethod.Get, $"/api/shares/{id}", user: null);
        var body = await read.Content.ReadAsStringAsync();

        Assert.Equal($"/?share={id}", share["link"]!.GetValue<string>());
        Assert.Equal(conversationId, share["conversationId"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal("no-cache", read.Headers.CacheControl!.ToString());
        Assert.NotNull(read.Headers.ETag);
        var snapshot = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(["id", "title", "createdAt", "messages"], snapshot.Select(p => p.Key));
        Assert.Equal("Trip to Lisbon ✈", snapshot["title"]!.GetValue<string>());
        var messages = snapshot["messages"]!.AsArray();
        Assert.Equal(["user", "assistant"], messages.Select(m => m!["role"]!.GetValue<string>()));
        Assert.All(messages, m => Assert.Equal(["role", "content"], m!.AsObject().Select(p => p.Key)));
        // The text goes out exactly as sent: the page sanitizes model output when it renders it.
        Assert.Contains("<img src=x onerror=alert(1)>", messages[1]!["content"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("reasoning", body, StringComparison.Ordinal);
        Assert.DoesNotContain("private thoughts", body, StringComparison.Ordinal);
        Assert.DoesNotContain(conversationId, body, StringComparison.Ordinal);
        Assert.DoesNotContain(TestAuthority.TenantId, body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_unchanged_snapshot_revalidates_with_304()
    {
        var id = (await CreateAsync(NewUser()))["id"]!.GetValue<string>();
        using var first = await SendAsync(HttpMethod.Get, $"/api/shares/{id}", user: null);
        using var again = new HttpRequestMessage(HttpMethod.Get, $"/api/shares/{id}");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);

        using var revalidated = await App.Client.SendAsync(again);

        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(first.Headers.ETag, revalidated.Headers.ETag);
    }

    [Fact]
    public async Task The_owner_lists_and_revokes_a_share_and_the_link_then_answers_404()
    {
        var alice = NewUser();
        var share = await CreateAsync(alice);
        var id = share["id"]!.GetValue<string>();

        using var list = await SendAsync(HttpMethod.Get, "/api/shares", alice);
        var listed = JsonNode.Parse(await list.Content.ReadAsStringAsync())!["items"]!.AsArray();
        using var revoke = await SendAsync(HttpMethod.Delete, $"/api/shares/{id}", alice);
        using var read = await SendAsync(HttpMethod.Get, $"/api/shares/{id}", user: null);
        using var listAfter = await SendAsync(HttpMethod.Get, "/api/shares", alice);
        using var revokeAgain = await SendAsync(HttpMethod.Delete, $"/api/shares/{id}", alice);

        Assert.Equal(id, Assert.Single(listed)!["id"]!.GetValue<string>());
        Assert.Equal("no-store", list.Headers.CacheControl!.ToString());
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await TitleEndpointTests.AssertProblemAsync(read, HttpStatusCode.NotFound, "id");
        Assert.Empty(JsonNode.Parse(await listAfter.Content.ReadAsStringAsync())!["items"]!.AsArray());
        await TitleEndpointTests.AssertProblemAsync(revokeAgain, HttpStatusCode.NotFound, "id");
    }

    [Fact]
    public async Task Another_users_revoke_is_the_same_404_as_an_unknown_id_and_the_share_stays()
    {
        var alice = NewUser();
        var bob = NewUser();
        var id = (await CreateAsync(alice))["id"]!.GetValue<string>();

        using var bobRevokes = await SendAsync(HttpMethod.Delete, $"/api/shares/{id}", bob);
        using var bobRevokesUnknown = await SendAsync(HttpMethod.Delete, $"/api/shares/{ShareId.New()}", bob);
        using var bobsList = await SendAsync(HttpMethod.Get, "/api/shares", bob);
        using var read = await SendAsync(HttpMethod.Get, $"/api/shares/{id}", user: null);

        await TitleEndpointTests.AssertProblemAsync(bobRevokes, HttpStatusCode.NotFound, "id");
        await TitleEndpointTests.AssertProblemAsync(bobRevokesUnknown, HttpStatusCode.NotFound, "id");
        Assert.Equal(await bobRevokesUnknown.Content.ReadAsStringAsync(), await bobRevokes.Content.ReadAsStringAsync());
        Assert.Empty(JsonNode.Parse(await bobsList.Content.ReadAsStringAsync())!["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task An_unknown_id_is_404_and_a_malformed_one_400_naming_id()
    {
        using var unknown = await SendAsync(HttpMethod.Get, $"/api/shares/{ShareId.New()}", user: null);
        foreach (var bad in new[] { "short", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA.", "AAAAAAAAAAAAAAAAAAAAAB", "%2E%2E%2Flinks%2Fx" })
        {
            using var response = await SendAsync(HttpMethod.Get, $"/api/shares/{bad}", user: null);
            await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "id");
        }

        await TitleEndpointTests.AssertProblemAsync(unknown, HttpStatusCode.NotFound, "id");
    }

    [Fact]
    public async Task Create_list_and_revoke_need_a_token_when_sign_in_is_on()
    {
        foreach (var (method, path, body) in new[] { (HttpMethod.Post, "/api/shares", (string?)Snapshot("c1")), (HttpMethod.Get, "/api/shares", null), (HttpMethod.Delete, $"/api/shares/{ShareId.New()}", null) })
        {
            using var response = await SendAsync(method, path, user: null, body);
            await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "Authorization");
        }
    }

    [Fact]
    public async Task With_sign_in_off_a_create_is_refused_with_a_problem_saying_a_share_needs_an_owner()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["AzureWebJobsStorage"] = Azurite.ConnectionString() });

        using var create = await SendAsync(HttpMethod.Post, "/api/shares", user: null, Snapshot("c1"), app);

        await TitleEndpointTests.AssertProblemAsync(create, HttpStatusCode.Forbidden, "Authorization");
        Assert.Equal(ShareService.SignInRequiredType, JsonNode.Parse(await create.Content.ReadAsStringAsync())!["type"]!.GetValue<string>());
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { "", "body" },
        { "[1]", "body" },
        { "{\"conversationId\":", "body" },
        { "{\"title\":\"t\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "conversationId" },
        { "{\"conversationId\":\"a/b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "conversationId" },
        { "{\"conversationId\":\"c1\",\"title\":7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "title" },
        { $"{{\"conversationId\":\"c1\",\"title\":\"{new string('t', 201)}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}", "title" },
        { "{\"conversationId\":\"c1\",\"messages\":[]}", "messages" },
        { "{\"conversationId\":\"c1\",\"messages\":{}}", "messages" },
        { "{\"conversationId\":\"c1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},3]}", "messages[1]" },
        { "{\"conversationId\":\"c1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\",\"content\":\"x\"}]}", "messages[1].role" },
        { "{\"conversationId\":\"c1\",\"messages\":[{\"role\":\"assistant\",\"content\":null}]}", "messages[0].content" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_a_400_problem_naming_the_field(string body, string field)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/shares", NewUser(), body);

        await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_415()
    {
        using var request = Request(HttpMethod.Post, "/api/shares", NewUser());
        request.Content = new StringContent(Snapshot("c1"), Encoding.UTF8, "text/plain");

        using var response = await App.Client.SendAsync(request);

        await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "content-type");
    }

    [Fact]
    public async Task A_snapshot_past_the_conversation_size_limit_is_413_and_the_limit_is_the_setting()
    {
        await using var app = await StartAppAsync(new() { ["CHAT_CONVERSATION_MAX_BYTES"] = "16384" });
        var alice = NewUser();
        var fits = Snapshot("c1", messages: $"[{{\"role\":\"user\",\"content\":\"{new string('x', 16_000)}\"}}]");
        var tooLarge = Snapshot("c1", messages: $"[{{\"role\":\"user\",\"content\":\"{new string('x', 16_400)}\"}}]");

        using var large = await SendAsync(HttpMethod.Post, "/api/shares", alice, tooLarge, app);
        using var small = await SendAsync(HttpMethod.Post, "/api/shares", alice, fits, app);

        Assert.True(Encoding.UTF8.GetByteCount(fits) <= 16_384);
        await TitleEndpointTests.AssertProblemAsync(large, HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
    }

    [Fact]
    public async Task Creating_past_the_per_user_share_count_is_409_and_a_revoke_makes_room()
    {
        await using var app = await StartAppAsync(new() { ["CHAT_CONVERSATION_MAX_COUNT"] = "2" });
        var alice = NewUser();
        var first = await CreateAsync(alice, app: app);
        await CreateAsync(alice, app: app);

        using var third = await SendAsync(HttpMethod.Post, "/api/shares", alice, Snapshot("c3"), app);
        using var revoke = await SendAsync(HttpMethod.Delete, $"/api/shares/{first["id"]!.GetValue<string>()}", alice, app: app);
        using var again = await SendAsync(HttpMethod.Post, "/api/shares", alice, Snapshot("c3"), app);

        await TitleEndpointTests.AssertProblemAsync(third, HttpStatusCode.Conflict, "shares");
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    [Fact]
    public async Task Creation_is_rate_limited_per_user_with_a_retry_after_and_other_users_go_on()
    {
        var alice = NewUser();
        for (var i = 0; i < ShareCreationLimiter.PermitsPerWindow; i++)
        {
            await CreateAsync(alice);
        }

        using var refused = await SendAsync(HttpMethod.Post, "/api/shares", alice, Snapshot("c1"));
        var bob = await CreateAsync(NewUser());

        await TitleEndpointTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "shares");
        var retryAfter = refused.Headers.RetryAfter!.Delta!.Value;
        // The window's segment is the longest a sliding window makes anyone wait (plus a second of rounding up).
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), ShareCreationLimiter.Window / 10 + TimeSpan.FromSeconds(1));
        Assert.NotNull(bob["id"]);
    }

    [Fact]
    public async Task Shares_are_kept_in_their_own_container_under_the_owner_hash_never_the_user_id()
    {
        var alice = NewUser();
        var id = (await CreateAsync(alice))["id"]!.GetValue<string>();

        var container = new BlobServiceClient(Azurite.ConnectionString()).GetBlobContainerClient(BlobShareStore.ContainerName);
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, null, default))
        {
            names.Add(blob.Name);
        }

        Assert.Contains(BlobShareStore.SnapshotName(id), names);
        Assert.Single(names, n => System.Text.RegularExpressions.Regex.IsMatch(n, $"^owners/[0-9a-f]{{64}}/{id}$"));
        Assert.DoesNotContain(names, n => n.Contains(TestAuthority.TenantId, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task No_log_entry_carries_a_shared_title_text_or_share_id()
    {
        const string Marker = "zqx-shared-secret-5b1e";
        var logs = new CapturedLogs();
        var settings = Authority.Settings();
        settings["AzureWebJobsStorage"] = Azurite.ConnectionString();
        await using var app = await AppServer.StartAsync(settings, logs.Register);
        var alice = NewUser();
        var body = Snapshot("c1", title: $"title {Marker}", messages: $$"""[{"role":"user","content":"ask {{Marker}}"},{"role":"assistant","content":"answer {{Marker}}"}]""");

        var id = (await CreateAsync(alice, body, app))["id"]!.GetValue<string>();
        using var read = await SendAsync(HttpMethod.Get, $"/api/shares/{id}", user: null, app: app);
        using var revoke = await SendAsync(HttpMethod.Delete, $"/api/shares/{id}", alice, app: app);
        using var gone = await SendAsync(HttpMethod.Get, $"/api/shares/{id}", user: null, app: app);

        Assert.Contains(Marker, await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        // The service logged what happened, so there was something to leak.
        Assert.Contains(logs.Entries, e => e.EventId.Name == "ShareCreated");
        Assert.Contains(logs.Entries, e => e.EventId.Name == "ShareRevoked");
        // Our own messages and their values, at every level. (The framework's request-start lines carry the URL: both
        // hosts keep that category at Warning, LogFilters.RequestStart, so they are not written.)
        var ours = logs.Entries.Where(e => e.Category.StartsWith("ChatFunctions", StringComparison.Ordinal))
            .SelectMany(e => e.State.Select(kv => Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "").Append(e.Message));
        Assert.DoesNotContain(ours, text => text.Contains(Marker, StringComparison.Ordinal) || text.Contains(id, StringComparison.Ordinal));
    }
}
