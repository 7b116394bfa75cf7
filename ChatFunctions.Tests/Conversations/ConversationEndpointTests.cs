using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using ChatFunctions.Conversations;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Titles;

namespace ChatFunctions.Tests.Conversations;

/// <summary>
/// /api/conversations against the real app, its conversations in Azurite's blobs, signed in through the fake
/// authority.
/// </summary>
[Trait("Category", "Infrastructure")]
[Collection(UsesAzurite.Name)]
public sealed class ConversationEndpointTests(AzuriteServer azurite) : SignedInEndpointTests(azurite)
{
    private static string NewId() => Guid.NewGuid().ToString();

    internal static string Document(string id, string title = "A chat", long updatedAt = 1_765_000_000_000, string messages = "[{\"id\":\"m1\",\"role\":\"user\",\"content\":\"hello\"}]") =>
        $$"""{"id":"{{id}}","title":"{{title}}","titleSource":"user","createdAt":1765000000000,"updatedAt":{{updatedAt}},"messages":{{messages}}}""";

    private static HttpRequestMessage Request(HttpMethod method, string path, string? user, string? body = null, string? ifMatch = null, bool create = false)
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

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (create)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", "*");
        }

        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? user, string? body = null, string? ifMatch = null, bool create = false)
    {
        using var request = Request(method, path, user, body, ifMatch, create);
        return await App.Client.SendAsync(request);
    }

    /// <summary>Creates the conversation and returns its ETag.</summary>
    private async Task<string> CreateAsync(string user, string id, string? body = null)
    {
        using var response = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", user, body ?? Document(id), create: true);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var etag = response.Headers.ETag?.ToString();
        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(etag is not null && etag == JsonNode.Parse(answer)!["etag"]!.GetValue<string>(), $"ETag header {etag}, body {answer}");
        return etag!;
    }

    private async Task<JsonArray> ListAsync(string user, string query = "")
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/conversations" + query, user);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["items"]!.AsArray();
    }

    [Fact]
    public async Task A_saved_conversation_reads_back_byte_for_byte_with_its_etag_and_is_listed()
    {
        var alice = NewUser();
        var id = NewId();
        var body = Document(id, title: "Trip to Lisbon ✈");

        var etag = await CreateAsync(alice, id, body);
        using var read = await SendAsync(HttpMethod.Get, $"/api/conversations/{id}", alice);
        var list = await ListAsync(alice);

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(body, await read.Content.ReadAsStringAsync());
        Assert.Equal(etag, read.Headers.ETag!.ToString());
        Assert.Equal("no-store", read.Headers.CacheControl!.ToString());
        var row = Assert.Single(list)!;
        Assert.Equal(id, row["id"]!.GetValue<string>());
        Assert.Equal("Trip to Lisbon ✈", row["title"]!.GetValue<string>());
        Assert.Equal(1_765_000_000_000, row["updatedAt"]!.GetValue<long>());
        Assert.Equal(etag, row["etag"]!.GetValue<string>());
        Assert.Null(row["deleted"]);
    }

    [Fact]
    public async Task One_user_can_never_read_write_or_delete_anothers_conversation()
    {
        var alice = NewUser();
        var bob = NewUser();
        var id = NewId();
        await CreateAsync(alice, id, Document(id, title: "Alice's"));

        using var bobReads = await SendAsync(HttpMethod.Get, $"/api/conversations/{id}", bob);
        var bobsList = await ListAsync(bob);
        // The same id is a different conversation in Bob's own space: creating it there leaves Alice's alone.
        await CreateAsync(bob, id, Document(id, title: "Bob's"));
        using var bobDeletes = await SendAsync(HttpMethod.Delete, $"/api/conversations/{id}", bob);
        using var aliceReads = await SendAsync(HttpMethod.Get, $"/api/conversations/{id}", alice);

        await TitleEndpointTests.AssertProblemAsync(bobReads, HttpStatusCode.NotFound, "id");
        Assert.Empty(bobsList);
        Assert.Equal(HttpStatusCode.NoContent, bobDeletes.StatusCode);
        Assert.Contains("Alice's", await aliceReads.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Stored under a hash of tenant and object id: neither appears in clear in any blob name.
        var container = new BlobServiceClient(Azurite.ConnectionString()).GetBlobContainerClient(BlobConversationStore.ContainerName);
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, null, default))
        {
            names.Add(blob.Name);
        }

        var ours = names.Where(n => n.EndsWith($"/{id}.json", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, ours.Count);
        Assert.All(ours, name => Assert.Matches("^[0-9a-f]{64}/", name));
        Assert.DoesNotContain(names, n => n.Contains(TestAuthority.TenantId, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_save_over_a_version_someone_else_replaced_is_412_and_the_newer_version_stays()
    {
        var alice = NewUser();
        var id = NewId();
        var first = await CreateAsync(alice, id);

        using var tabA = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id, title: "from tab A", updatedAt: 2), ifMatch: first);
        using var tabB = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id, title: "from tab B", updatedAt: 3), ifMatch: first);
        using var createAgain = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id), create: true);
        using var read = await SendAsync(HttpMethod.Get, $"/api/conversations/{id}", alice);

        Assert.Equal(HttpStatusCode.OK, tabA.StatusCode);
        await TitleEndpointTests.AssertProblemAsync(tabB, HttpStatusCode.PreconditionFailed, "If-Match");
        await TitleEndpointTests.AssertProblemAsync(createAgain, HttpStatusCode.PreconditionFailed, "If-None-Match");
        Assert.Contains("from tab A", await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(tabA.Headers.ETag!.ToString(), read.Headers.ETag!.ToString());
        Assert.NotEqual(first, read.Headers.ETag!.ToString());
    }

    [Fact]
    public async Task A_save_without_a_precondition_is_428()
    {
        var id = NewId();

        using var response = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", NewUser(), Document(id));

        await TitleEndpointTests.AssertProblemAsync(response, (HttpStatusCode)428, "If-Match");
    }

    [Fact]
    public async Task A_delete_leaves_a_tombstone_that_a_stale_device_cannot_overwrite()
    {
        var alice = NewUser();
        var id = NewId();
        var etag = await CreateAsync(alice, id);

        using var deleted = await SendAsync(HttpMethod.Delete, $"/api/conversations/{id}", alice);
        using var read = await SendAsync(HttpMethod.Get, $"/api/conversations/{id}", alice);
        var list = await ListAsync(alice);
        // The other device still holds the old version (and its ETag), or never saved it at all.
        using var staleUpdate = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id, updatedAt: 9), ifMatch: etag);
        using var staleCreate = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id, updatedAt: 9), create: true);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var tombstone = JsonNode.Parse(await read.Content.ReadAsStringAsync())!;
        Assert.True(tombstone["deleted"]!.GetValue<bool>());
        Assert.Equal(id, tombstone["id"]!.GetValue<string>());
        Assert.True(Assert.Single(list)!["deleted"]!.GetValue<bool>());
        await TitleEndpointTests.AssertProblemAsync(staleUpdate, HttpStatusCode.PreconditionFailed, "If-Match");
        await TitleEndpointTests.AssertProblemAsync(staleCreate, HttpStatusCode.PreconditionFailed, "If-None-Match");
    }

    [Fact]
    public async Task Deleting_an_id_never_saved_leaves_a_tombstone_too()
    {
        var alice = NewUser();
        var id = NewId();

        using var deleted = await SendAsync(HttpMethod.Delete, $"/api/conversations/{id}", alice);
        using var create = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id), create: true);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await TitleEndpointTests.AssertProblemAsync(create, HttpStatusCode.PreconditionFailed, "If-None-Match");
    }

    [Fact]
    public async Task Without_a_token_every_conversation_request_is_401_when_sign_in_is_on()
    {
        var id = NewId();
        foreach (var (method, path, body) in new[] { (HttpMethod.Get, "/api/conversations", (string?)null), (HttpMethod.Get, $"/api/conversations/{id}", null), (HttpMethod.Put, $"/api/conversations/{id}", Document(id)), (HttpMethod.Delete, $"/api/conversations/{id}", null) })
        {
            using var response = await SendAsync(method, path, user: null, body, create: body is not null);
            await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "Authorization");
        }
    }

    [Fact]
    public async Task With_sign_in_off_conversation_requests_are_404_problems_saying_sync_needs_sign_in()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["AzureWebJobsStorage"] = Azurite.ConnectionString() });
        var id = NewId();

        using var list = await app.Client.GetAsync(new Uri("/api/conversations", UriKind.Relative));
        using var put = await app.Client.SendAsync(Request(HttpMethod.Put, $"/api/conversations/{id}", null, Document(id), create: true));

        foreach (var response in new[] { list, put })
        {
            await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.NotFound, "Authorization");
            var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(ConversationService.SignInRequiredType, problem["type"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_document_past_the_size_limit_is_413_and_the_limit_is_the_setting()
    {
        await using var app = await StartAppAsync(new() { ["CHAT_CONVERSATION_MAX_BYTES"] = "16384" });
        var alice = NewUser();
        var id = NewId();
        var fits = Document(id, messages: $"[{{\"id\":\"m1\",\"content\":\"{new string('x', 16_000)}\"}}]");
        var tooLarge = Document(id, messages: $"[{{\"id\":\"m1\",\"content\":\"{new string('x', 16_400)}\"}}]");

        using var large = await app.Client.SendAsync(Request(HttpMethod.Put, $"/api/conversations/{id}", alice, tooLarge, create: true));
        using var small = await app.Client.SendAsync(Request(HttpMethod.Put, $"/api/conversations/{id}", alice, fits, create: true));

        Assert.True(Encoding.UTF8.GetByteCount(fits) <= 16_384);
        await TitleEndpointTests.AssertProblemAsync(large, HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
    }

    [Fact]
    public async Task Creating_past_the_count_limit_is_409_and_a_delete_makes_room()
    {
        await using var app = await StartAppAsync(new() { ["CHAT_CONVERSATION_MAX_COUNT"] = "2" });
        var alice = NewUser();
        var ids = new[] { NewId(), NewId(), NewId() };
        foreach (var id in ids[..2])
        {
            using var created = await app.Client.SendAsync(Request(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id), create: true));
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        }

        using var third = await app.Client.SendAsync(Request(HttpMethod.Put, $"/api/conversations/{ids[2]}", alice, Document(ids[2]), create: true));
        using var delete = await app.Client.SendAsync(Request(HttpMethod.Delete, $"/api/conversations/{ids[0]}", alice));
        using var again = await app.Client.SendAsync(Request(HttpMethod.Put, $"/api/conversations/{ids[2]}", alice, Document(ids[2]), create: true));

        await TitleEndpointTests.AssertProblemAsync(third, HttpStatusCode.Conflict, "conversations");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Theory]
    [InlineData("has.dot")]
    [InlineData("has%20space")]
    [InlineData("..")]
    [InlineData("%2E%2E%2Fother")]
    [InlineData("x12345678901234567890123456789012345678901234567890123456789012345")]
    public async Task An_id_outside_the_format_is_a_400_problem_naming_id(string id)
    {
        var alice = NewUser();

        using var get = await SendAsync(HttpMethod.Get, $"/api/conversations/{id}", alice);
        using var put = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document("x"), create: true);

        // A path the router cannot take as one segment never reaches the function (404); every id that does is checked.
        foreach (var response in new[] { get, put })
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, body);
            if (response.StatusCode == HttpStatusCode.BadRequest)
            {
                await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "id");
            }
            else
            {
                Assert.DoesNotContain("\"etag\"", body, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task The_id_format_accepts_uuids_and_refuses_what_could_leave_the_users_prefix()
    {
        Assert.True(ConversationId.IsValid(Guid.NewGuid().ToString()));
        Assert.True(ConversationId.IsValid("c_1-A"));
        foreach (var bad in new[] { "", "a/b", "..", "a.b", "a b", new string('a', 65), "ä" })
        {
            Assert.False(ConversationId.IsValid(bad), bad);
        }

        using var response = await SendAsync(HttpMethod.Get, "/api/conversations/has.dot", NewUser());
        await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "id");
    }

    public static TheoryData<string, string> BadDocuments => new()
    {
        { "{\"id\":\"ID\",\"updatedAt\":1,", "body" },
        { "[]", "body" },
        { "", "body" },
        { "{\"id\":\"other\",\"updatedAt\":1,\"messages\":[]}", "id" },
        { "{\"updatedAt\":1,\"messages\":[]}", "id" },
        { "{\"id\":\"ID\",\"messages\":[]}", "updatedAt" },
        { "{\"id\":\"ID\",\"updatedAt\":\"yesterday\",\"messages\":[]}", "updatedAt" },
        { "{\"id\":\"ID\",\"updatedAt\":1}", "messages" },
        { "{\"id\":\"ID\",\"updatedAt\":1,\"messages\":{}}", "messages" },
        { "{\"id\":\"ID\",\"updatedAt\":1,\"messages\":[],\"title\":7}", "title" },
        { "{\"id\":\"ID\",\"updatedAt\":1,\"messages\":[],\"title\":\"" + new string('t', 201) + "\"}", "title" },
        { "{\"id\":\"ID\",\"updatedAt\":1,\"messages\":[],\"deleted\":true}", "deleted" },
    };

    [Theory]
    [MemberData(nameof(BadDocuments))]
    public async Task A_malformed_document_is_a_400_problem_naming_the_field(string template, string field)
    {
        var id = NewId();

        using var response = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", NewUser(), template.Replace("ID", id, StringComparison.Ordinal), create: true);

        await TitleEndpointTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task Bad_preconditions_and_a_body_that_is_not_json_are_problems_naming_the_header()
    {
        var alice = NewUser();
        var id = NewId();

        using var notJson = new HttpRequestMessage(HttpMethod.Put, $"/api/conversations/{id}") { Content = new StringContent(Document(id), Encoding.UTF8, "text/plain") };
        notJson.Headers.Authorization = new("Bearer", alice);
        notJson.Headers.TryAddWithoutValidation("If-None-Match", "*");
        using var text = await App.Client.SendAsync(notJson);
        using var unquoted = await SendAsync(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id), ifMatch: "abc");
        using var both = Request(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id), ifMatch: "\"abc\"", create: true);
        using var bothResponse = await App.Client.SendAsync(both);
        using var noneMatchTag = Request(HttpMethod.Put, $"/api/conversations/{id}", alice, Document(id));
        noneMatchTag.Headers.TryAddWithoutValidation("If-None-Match", "\"abc\"");
        using var noneMatchResponse = await App.Client.SendAsync(noneMatchTag);

        await TitleEndpointTests.AssertProblemAsync(text, HttpStatusCode.UnsupportedMediaType, "content-type");
        await TitleEndpointTests.AssertProblemAsync(unquoted, HttpStatusCode.BadRequest, "If-Match");
        await TitleEndpointTests.AssertProblemAsync(bothResponse, HttpStatusCode.BadRequest, "If-Match");
        await TitleEndpointTests.AssertProblemAsync(noneMatchResponse, HttpStatusCode.BadRequest, "If-None-Match");
    }

    [Fact]
    public async Task The_list_pages_with_limit_and_continuation()
    {
        var alice = NewUser();
        var ids = new[] { NewId(), NewId(), NewId() };
        foreach (var id in ids)
        {
            await CreateAsync(alice, id);
        }

        using var firstResponse = await SendAsync(HttpMethod.Get, "/api/conversations?limit=2", alice);
        var first = JsonNode.Parse(await firstResponse.Content.ReadAsStringAsync())!;
        var next = first["next"]!.GetValue<string>();
        using var secondResponse = await SendAsync(HttpMethod.Get, $"/api/conversations?limit=2&continuation={Uri.EscapeDataString(next)}", alice);
        var second = JsonNode.Parse(await secondResponse.Content.ReadAsStringAsync())!;
        using var badLimit = await SendAsync(HttpMethod.Get, "/api/conversations?limit=0", alice);

        Assert.Equal(2, first["items"]!.AsArray().Count);
        Assert.Single(second["items"]!.AsArray());
        Assert.Null(second["next"]);
        Assert.Equal(ids.Order(StringComparer.Ordinal), first["items"]!.AsArray().Concat(second["items"]!.AsArray()).Select(i => i!["id"]!.GetValue<string>()));
        await TitleEndpointTests.AssertProblemAsync(badLimit, HttpStatusCode.BadRequest, "limit");
    }

    [Theory]
    [InlineData("CHAT_CONVERSATION_MAX_BYTES", "100")]
    [InlineData("CHAT_CONVERSATION_MAX_COUNT", "0")]
    [InlineData("CHAT_TITLE_MAX_OUTPUT_TOKENS", "2000")]
    public async Task Out_of_range_limits_fail_the_start_naming_the_setting(string setting, string value)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => AppServer.StartAsync(new Dictionary<string, string> { [setting] = value }));

        Assert.Contains($"{setting}: must be between", failure.Message, StringComparison.Ordinal);
    }
}
