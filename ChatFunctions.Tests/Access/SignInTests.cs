using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ChatFunctions.Tests.Access;

/// <summary>The app (standalone host) with sign-in on against <see cref="TestAuthority"/>, started once for these tests.</summary>
public sealed class SignedInApp : IAsyncLifetime
{
    public TestAuthority Authority { get; private set; } = null!;

    public AppServer App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Authority = await TestAuthority.StartAsync();
        App = await AppServer.StartAsync(Authority.Settings());
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Authority.DisposeAsync();
    }
}

/// <summary>
/// Entra ID bearer tokens over real HTTP: tokens minted here with RSA keys made in the test, validated by the app
/// against OpenID Connect metadata and JWKS that a local server publishes.
/// </summary>
[Trait("Category", "Http")]
public sealed class SignInTests(SignedInApp fixture) : IClassFixture<SignedInApp>
{
    private TestAuthority Authority => fixture.Authority;

    public static TheoryData<string> AcceptedTokens => ["user with the chat scope", "audience api://<clientId>", "application with the chat app role"];

    [Theory]
    [MemberData(nameof(AcceptedTokens))]
    public async Task A_valid_token_streams_the_reply(string kind)
    {
        var token = Authority.UserToken();
        if (kind.StartsWith("audience", StringComparison.Ordinal))
        {
            token.Audience = $"api://{TestAuthority.ClientId}";
        }
        else if (kind.StartsWith("application", StringComparison.Ordinal))
        {
            token.Claims.Remove("scp");
            token.Claims["roles"] = new[] { "chat" };
        }

        var frames = await SseClient.ReadAllAsync(fixture.App.Client, WithBearer(SseClient.Post("hi [demo:tokens=3]"), TestAuthority.Mint(token)));

        SseClient.AssertWellFormed(frames);
        Assert.Equal(3, frames.Count(f => f.IsChunk));
    }

    public static TheoryData<string, string> RejectedTokens => new()
    {
        { "expired", "expired" },
        { "not yet valid", "not valid yet" },
        { "wrong audience", "another API" },
        { "wrong issuer", "another tenant" },
        { "unsigned (alg none)", "signature" },
        { "signed by another key with the published key id", "signature" },
        { "signed by a key the metadata does not publish", "signature" },
        { "HMAC-signed (algorithm confusion)", "" },
        { "not a JWT", "well-formed" },
    };

    [Theory]
    [MemberData(nameof(RejectedTokens))]
    public async Task An_invalid_token_gets_a_401_problem_naming_Authorization(string kind, string detailMentions)
    {
        var token = Authority.UserToken();
        var now = DateTime.UtcNow;
        switch (kind)
        {
            case "expired":
                (token.IssuedAt, token.NotBefore, token.Expires) = (now.AddHours(-3), now.AddHours(-3), now.AddMinutes(-5));
                break;
            case "not yet valid":
                (token.IssuedAt, token.NotBefore, token.Expires) = (now, now.AddMinutes(10), now.AddHours(1));
                break;
            case "wrong audience":
                token.Audience = "api://00000000-0000-0000-0000-000000000001";
                break;
            case "wrong issuer":
                token.Issuer = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000002/v2.0";
                break;
            case "unsigned (alg none)":
                token.SigningCredentials = null;
                break;
            case "signed by another key with the published key id":
                token.SigningCredentials = new SigningCredentials(TestAuthority.NewKey(Authority.SigningKey.KeyId), SecurityAlgorithms.RsaSha256);
                break;
            case "signed by a key the metadata does not publish":
                token.SigningCredentials = new SigningCredentials(TestAuthority.NewKey("unknown-key"), SecurityAlgorithms.RsaSha256);
                break;
            case "HMAC-signed (algorithm confusion)":
                token.SigningCredentials = new SigningCredentials(
                    new SymmetricSecurityKey(Authority.SigningKey.Rsa.ExportParameters(false).Modulus) { KeyId = Authority.SigningKey.KeyId }, SecurityAlgorithms.HmacSha256);
                break;
        }

        var raw = kind == "not a JWT" ? "this-is-not-a-token" : TestAuthority.Mint(token);
        if (kind == "unsigned (alg none)")
        {
            Assert.EndsWith(".", raw, StringComparison.Ordinal);
        }

        using var response = await fixture.App.Client.SendAsync(WithBearer(SseClient.Post("hi"), raw));

        var detail = await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains(detailMentions, detail, StringComparison.Ordinal);
        Assert.StartsWith("Bearer error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_token_without_the_chat_scope_or_role_gets_a_403_problem()
    {
        using var response = await fixture.App.Client.SendAsync(WithBearer(SseClient.Post("hi"), TestAuthority.Mint(Authority.UserToken(scope: "User.Read"))));

        var detail = await AssertProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Contains("'chat' scope", detail, StringComparison.Ordinal);
        Assert.Equal($"Bearer error=\"insufficient_scope\", scope=\"api://{TestAuthority.ClientId}/chat\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("POST", null)]
    [InlineData("GET", null)]
    [InlineData("POST", "Basic dXNlcjpwYXNz")]
    public async Task Without_a_bearer_token_every_chat_request_gets_a_401_problem(string method, string? authorization)
    {
        using var request = method == "GET" ? new HttpRequestMessage(HttpMethod.Get, "/api/chat/stream?message=hi") : SseClient.Post("hi");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await fixture.App.Client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        if (authorization is null)
        {
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        }
    }

    [Fact]
    public async Task A_key_published_after_start_is_fetched_when_a_token_names_it()
    {
        await using var authority = await TestAuthority.StartAsync();
        await using var app = await AppServer.StartAsync(authority.Settings());
        // The app has read the metadata (and cached the first key) before the rotation.
        SseClient.AssertWellFormed(await SseClient.ReadAllAsync(app.Client, WithBearer(SseClient.Post("hi [demo:tokens=1]"), TestAuthority.Mint(authority.UserToken()))));
        var rotated = TestAuthority.NewKey("test-key-2");
        authority.Publish(rotated);
        var token = authority.UserToken();
        token.SigningCredentials = new SigningCredentials(rotated, SecurityAlgorithms.RsaSha256);

        // The unknown key id makes the app refresh the metadata; the manager may do that in the background, so the
        // first request may still see the old keys. A later one must pass: polled until then, within a bound that only
        // ends a test that would hang (the refresh is one local metadata fetch).
        var statuses = new List<HttpStatusCode>();
        var polling = System.Diagnostics.Stopwatch.StartNew();
        while (!statuses.Contains(HttpStatusCode.OK) && polling.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (statuses.Count > 0)
            {
                await Task.Delay(Poll.RequestInterval);
            }

            using var response = await app.Client.SendAsync(WithBearer(SseClient.Post("hi [demo:tokens=1]"), TestAuthority.Mint(token)));
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, statuses[^1]);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.Unauthorized, s.ToString()));
    }

    [Fact]
    public async Task Health_stays_open()
    {
        using var response = await fixture.App.Client.GetAsync(new Uri("/api/health", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Unreachable_metadata_is_a_503_problem_not_a_401()
    {
        // A port nothing listens on: the authority is down, so no token can be checked.
        var settings = Authority.Settings();
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            settings["CHAT_AUTH_INSTANCE"] = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/";
        }

        await using var app = await AppServer.StartAsync(settings);
        using var response = await app.Client.SendAsync(WithBearer(SseClient.Post("hi"), TestAuthority.Mint(Authority.UserToken())));

        await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(response.Headers.RetryAfter);
        // The title says what is down: the identity provider, not the model.
        Assert.Equal("Sign-in cannot be checked.", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_authority_outage_while_fetching_new_keys_is_never_a_server_error()
    {
        // The first token is checked against fetched metadata; then the authority goes down and a token signed by a
        // key it never published makes the app fetch the metadata again.
        var authority = await TestAuthority.StartAsync();
        await using var app = await AppServer.StartAsync(authority.Settings());
        var frames = await SseClient.ReadAllAsync(app.Client, WithBearer(SseClient.Post("hi [demo:tokens=1]"), TestAuthority.Mint(authority.UserToken())));
        SseClient.AssertWellFormed(frames);
        var rotated = authority.UserToken();
        rotated.SigningCredentials = new SigningCredentials(TestAuthority.NewKey("rotated-key"), SecurityAlgorithms.RsaSha256);
        await authority.DisposeAsync();

        using var response = await app.Client.SendAsync(WithBearer(SseClient.Post("hi"), TestAuthority.Mint(rotated)));

        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.Unauthorized, $"{(int)response.StatusCode}: {problem}");
        Assert.Equal(
            response.StatusCode == HttpStatusCode.ServiceUnavailable ? "Sign-in cannot be checked." : "Sign-in required.",
            problem["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Budgets_are_kept_per_signed_in_user_not_per_address()
    {
        var settings = Authority.Settings();
        // Each request reserves about 40 input tokens + 100 output before the model is called.
        settings["CHAT_TOKEN_BUDGET_PER_DAY"] = "190";
        settings["CHAT_MAX_OUTPUT_TOKENS"] = "100";
        await using var app = await AppServer.StartAsync(settings);
        var alice = TestAuthority.Mint(Authority.UserToken(objectId: "aaaaaaaa-0000-0000-0000-000000000001"));
        var bob = TestAuthority.Mint(Authority.UserToken(objectId: "bbbbbbbb-0000-0000-0000-000000000002"));

        // The demo model reports usage: about 70 spent, after which Alice's next worst case no longer fits.
        SseClient.AssertWellFormed(await SseClient.ReadAllAsync(app.Client, WithBearer(SseClient.Post("hi [demo:tokens=50]"), alice)));
        using var spent = await app.Client.SendAsync(WithBearer(SseClient.Post("again"), alice));
        var frames = await SseClient.ReadAllAsync(app.Client, WithBearer(SseClient.Post("hi [demo:tokens=3]"), bob));

        Assert.Equal(HttpStatusCode.TooManyRequests, spent.StatusCode);
        Assert.Contains("budget", (await spent.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        SseClient.AssertWellFormed(frames);
    }

    private static HttpRequestMessage WithBearer(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    /// <summary>An RFC 9457 problem with <paramref name="status"/> whose errors name Authorization; returns its detail.</summary>
    private static async Task<string> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        var message = problem["errors"]!["Authorization"]![0]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.Equal(message, problem["detail"]!.GetValue<string>());
        return message;
    }
}
