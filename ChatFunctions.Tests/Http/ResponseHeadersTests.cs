using System.Net.Http.Json;
using System.Text;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Http;

/// <summary>
/// The security headers on every kind of response the standalone host sends, over real HTTP: the stream, problems of
/// every status, health, the page and its config.json, and what routing and the request limits refuse.
/// </summary>
[Trait("Category", "Http")]
public sealed class ResponseHeadersTests : IAsyncLifetime
{
    private const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";
    private const string PagePolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

    private readonly string _webRoot = Directory.CreateTempSubdirectory("chat-web-").FullName;
    private AppServer _app = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_webRoot, "index.html"), "<!doctype html><title>chat</title>");
        await File.WriteAllTextAsync(Path.Combine(_webRoot, "config.json"), "{\"apiBaseUrl\":\"\"}");
        await File.WriteAllTextAsync(Path.Combine(_webRoot, "staticwebapp.config.json"), $$"""
            {
              "routes": [ { "route": "/config.json", "headers": { "Cache-Control": "no-store" } } ],
              "globalHeaders": { "Content-Security-Policy": "{{PagePolicy}}", "Permissions-Policy": "camera=()" }
            }
            """);
        _app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_WEB_ROOT"] = _webRoot,
            ["CHAT_MAX_REQUEST_BYTES"] = "4096",
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        Directory.Delete(_webRoot, recursive: true);
    }

    public static TheoryData<string> ApiResponses => new()
    {
        "stream", "health", "400 invalid body", "413 body too large", "415 not json", "404 unknown api route",
        "405 wrong method", "414 url too long", "431 headers too large",
    };

    [Theory]
    [MemberData(nameof(ApiResponses))]
    public async Task EveryApiResponse_CarriesTheSecurityHeaders(string kind)
    {
        using var response = await SendAsync(kind);

        AssertApiHeaders(response);
        var cacheControl = response.Headers.CacheControl?.ToString();
        if (kind == "stream")
        {
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            Assert.True(response.Headers.CacheControl is { NoCache: true, NoTransform: true, NoStore: false }, cacheControl);
        }
        else
        {
            Assert.Equal("no-store", cacheControl);
        }

        if (kind[0] is '4')
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task ARateLimitedRequest_And_ANoModelAnswer_CarryThemToo()
    {
        await using var limited = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_RATE_LIMIT_PER_MINUTE"] = "1" });
        using (await limited.Client.PostAsync("/api/chat/stream", JsonContent.Create(new { message = "hi [demo:tokens=1]" })))
        {
        }

        using var refused = await limited.Client.PostAsync("/api/chat/stream", JsonContent.Create(new { message = "hi" }));
        Assert.Equal(429, (int)refused.StatusCode);
        AssertApiHeaders(refused);
        Assert.Equal("no-store", refused.Headers.CacheControl?.ToString());

        await using var unconfigured = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_PROVIDER"] = "Auto",
            ["CHAT_DEMO_ENABLED"] = "false",
            ["AZURE_OPENAI_ENDPOINT"] = "",
            ["OPENAI_BASE_URL"] = "",
        });
        using var unavailable = await unconfigured.Client.PostAsync("/api/chat/stream", JsonContent.Create(new { message = "hi" }));
        Assert.Equal(503, (int)unavailable.StatusCode);
        AssertApiHeaders(unavailable);
        Assert.Equal("no-store", unavailable.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task ThePage_GetsItsOwnPolicy_FromStaticWebAppConfig_AndTheCommonHeaders()
    {
        using var response = await _app.Client.GetAsync("/");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(PagePolicy, Single(response, "Content-Security-Policy"));
        Assert.Equal("camera=()", Single(response, "Permissions-Policy"));
        Assert.Equal("nosniff", Single(response, "X-Content-Type-Options"));
        Assert.Equal("no-referrer", Single(response, "Referrer-Policy"));
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task ConfigJson_IsNeverCached_AndCarriesTheHeaders()
    {
        using var response = await _app.Client.GetAsync("/config.json");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal(PagePolicy, Single(response, "Content-Security-Policy"));
        Assert.Equal("nosniff", Single(response, "X-Content-Type-Options"));
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task ConfigJson_WithoutOneInTheWebRoot_SaysSameOriginAndAnonymous()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_WEB_ROOT"] = Directory.CreateTempSubdirectory().FullName });

        using var response = await app.Client.GetAsync("/config.json");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{\"apiBaseUrl\":\"\",\"auth\":null}", await response.Content.ReadAsStringAsync());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task WhatKestrelRefusesBeforeTheApp_HasNoServerBanner()
    {
        // 100 KB of headers is past even the server's own hard limit, so Kestrel answers without the app.
        var response = await RawHttp.SendAsync(_app.BaseAddress,
            $"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 100 * 1024)}\r\n\r\n");

        Assert.Equal(431, response.Status);
        Assert.Null(response.Header("Server"));
    }

    private async Task<HttpResponseMessage> SendAsync(string kind)
    {
        var client = _app.Client;
        switch (kind)
        {
            case "stream":
                return await SseClient.SendAsync(client, SseClient.Post("hi [demo:tokens=2]"));
            case "health":
                return await client.GetAsync("/api/health");
            case "400 invalid body":
                return await client.PostAsync("/api/chat/stream", new StringContent("{}", Encoding.UTF8, "application/json"));
            case "413 body too large":
                return await client.PostAsync("/api/chat/stream", new StringContent("{\"message\":\"" + new string('m', 5000) + "\"}", Encoding.UTF8, "application/json"));
            case "415 not json":
                return await client.PostAsync("/api/chat/stream", new StringContent("hi", Encoding.UTF8, "text/plain"));
            case "404 unknown api route":
                return await client.GetAsync("/api/nothing-here");
            case "405 wrong method":
                return await client.DeleteAsync("/api/chat/stream");
            case "414 url too long":
                return await client.GetAsync("/api/chat/stream?message=" + new string('m', 20 * 1024));
            case "431 headers too large":
                using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/health"))
                {
                    request.Headers.Add("X-Big", new string('h', 20 * 1024));
                    return await client.SendAsync(request);
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    internal static void AssertApiHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", Single(response, "X-Content-Type-Options"));
        Assert.Equal("no-referrer", Single(response, "Referrer-Policy"));
        Assert.Equal(ApiPolicy, Single(response, "Content-Security-Policy"));
        Assert.Equal("DENY", Single(response, "X-Frame-Options"));
        Assert.False(response.Headers.Contains("Server"), "a Server banner: " + string.Join(",", response.Headers.Server));
    }

    internal static string Single(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? Assert.Single(values)
            : throw new Xunit.Sdk.XunitException($"no {name} header on {(int)response.StatusCode}");
}

/// <summary>
/// Under the Functions host no middleware of ours runs: the functions themselves must set the headers. Called here
/// directly, with nothing in front of them.
/// </summary>
[Trait("Category", "Http")]
public sealed class FunctionResponseHeadersTests
{
    [Theory]
    [InlineData("health")]
    [InlineData("stream")]
    [InlineData("problem")]
    [InlineData("resume")]
    [InlineData("resume of an unknown stream")]
    [InlineData("stop")]
    public async Task TheFunctionsThemselves_SetTheSecurityHeaders(string kind)
    {
        await using var app = await AppServer.StartAsync();
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = app.Services };
        context.Response.Body = new MemoryStream();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback;

        if (kind == "health")
        {
            context.Request.Method = "GET";
            var health = Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance<ChatFunctions.Functions.HealthFunction>(app.Services);
            await health.RunAsync(context.Request, CancellationToken.None);
        }
        else if (kind.StartsWith("resume", StringComparison.Ordinal) || kind == "stop")
        {
            // A finished stream to resume or stop, started over HTTP.
            var frames = await SseClient.ReadAllAsync(app.Client, SseClient.Post("hi [demo:tokens=1]"));
            var streamId = kind == "resume of an unknown stream" ? "AAAAAAAAAAAAAAAAAAAAAA" : frames[0].Data["meta"]!["streamId"]!.GetValue<string>();
            context.Request.Method = kind == "stop" ? "DELETE" : "GET";
            context.Request.Path = $"/api/chat/streams/{streamId}";
            if (kind == "stop")
            {
                var stop = Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance<ChatFunctions.Functions.StopStreamFunction>(app.Services);
                await stop.RunAsync(context.Request, streamId, CancellationToken.None);
            }
            else
            {
                var resume = Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance<ChatFunctions.Functions.ResumeStreamFunction>(app.Services);
                await resume.RunAsync(context.Request, streamId, CancellationToken.None);
            }
        }
        else
        {
            context.Request.Method = "POST";
            context.Request.ContentType = "application/json";
            context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(kind == "stream" ? "{\"message\":\"hi [demo:tokens=1]\"}" : "{}"));
            var chat = Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance<ChatFunctions.Functions.ChatStreamFunction>(app.Services);
            await chat.RunAsync(context.Request, CancellationToken.None);
        }

        var headers = context.Response.Headers;
        Assert.Equal(kind switch { "problem" => 400, "resume of an unknown stream" => 404, "stop" => 204, _ => 200 }, context.Response.StatusCode);
        Assert.Equal("nosniff", headers.XContentTypeOptions.ToString());
        Assert.Equal("no-referrer", headers["Referrer-Policy"].ToString());
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", headers.ContentSecurityPolicy.ToString());
        Assert.Equal("DENY", headers.XFrameOptions.ToString());
        Assert.Equal(kind is "stream" or "resume" ? "no-cache, no-transform" : "no-store", headers.CacheControl.ToString());
    }
}
