using System.Text.Json.Nodes;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace ChatFunctions.Tests.Hosting;

/// <summary>
/// What the standalone host refuses before any function runs (routing, request limits, the server's body checks)
/// answers with the same problem+json as the functions' own rejections, over a raw socket.
/// </summary>
[Trait("Category", "Http")]
public sealed class ServerRejectionTests : IAsyncLifetime
{
    private AppServer _app = null!;

    public async Task InitializeAsync() => _app = await AppServer.StartAsync(configureServices: services =>
        // A short minimum-rate grace so a stalled body is refused within about two seconds instead of five.
        services.Configure<KestrelServerOptions>(o => o.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(2))));

    public async Task DisposeAsync() => await _app.DisposeAsync();

    public static TheoryData<string, int, string> Rejections => new()
    {
        { "GET /api/no-such-function HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "path" },
        { "DELETE /api/chat/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "method" },
        { "PUT /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405, "method" },
        { $"GET /api/chat/stream?message={new string('m', 20 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 414, "url" },
        { $"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {new string('h', 20 * 1024)}\r\nConnection: close\r\n\r\n", 431, "headers" },
        { $"GET /api/health HTTP/1.1\r\nHost: x\r\n{string.Concat(Enumerable.Range(0, 200).Select(i => $"X-H{i}: {new string('v', 100)}\r\n"))}Connection: close\r\n\r\n", 431, "headers" },
        { "POST /api/chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, "body" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public async Task ServerAndRoutingRejections_AreProblems_NamingWhatWasWrong(string request, int status, string field)
    {
        var response = await RawHttp.SendAsync(_app.BaseAddress, request);

        AssertProblem(response, status, field);
    }

    [Fact]
    public async Task WrongMethod_SaysWhichMethodsAreAllowed()
    {
        var response = await RawHttp.SendAsync(_app.BaseAddress, "DELETE /api/chat/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(405, response.Status);
        Assert.Equal("GET, POST", response.Header("Allow"));
    }

    [Fact]
    public async Task ABodyThatStopsArriving_Gets408_AsAProblem()
    {
        var response = await RawHttp.SendAsync(_app.BaseAddress,
            "POST /api/chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"message\":",
            timeout: TimeSpan.FromSeconds(20));

        AssertProblem(response, 408, "body");
    }

    [Fact]
    public async Task AMalformedRequestLine_IsRefusedByKestrelItself_WithoutABanner()
    {
        // Kestrel answers before any middleware runs: the app cannot shape this one (documented).
        var response = await RawHttp.SendAsync(_app.BaseAddress, "GET /api/health HTTP/1.1 extra\r\nHost: x\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Null(response.Header("Server"));
    }

    private static void AssertProblem(RawResponse response, int status, string field)
    {
        Assert.Equal(status, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type")?.Split(';')[0]);
        Assert.Equal("nosniff", response.Header("X-Content-Type-Options"));
        Assert.Equal("no-store", response.Header("Cache-Control"));
        Assert.Null(response.Header("Server"));
        Assert.DoesNotContain("   at ", response.Body, StringComparison.Ordinal);
        var problem = JsonNode.Parse(response.Body)!.AsObject();
        Assert.Equal(status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(problem["title"]?.GetValue<string>()));
        Assert.False(string.IsNullOrWhiteSpace(problem["detail"]?.GetValue<string>()));
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"errors names '{field}': {response.Body}");
    }
}

[Trait("Category", "Http")]
public sealed class UnhandledErrorTests
{
    [Fact]
    public async Task AnExceptionBeforeTheStream_IsA500Problem_WithoutAStackTrace()
    {
        var reader = new Moq.Mock<ChatFunctions.Http.IChatRequestReader>();
        reader.Setup(r => r.ReadAsync(Moq.It.IsAny<Microsoft.AspNetCore.Http.HttpRequest>(), Moq.It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("secret internal detail"));
        await using var app = await AppServer.StartAsync(configureServices: services => services.AddSingleton(reader.Object));

        var response = await RawHttp.SendAsync(app.BaseAddress,
            "POST /api/chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");

        Assert.Equal(500, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type")?.Split(';')[0]);
        Assert.Equal("nosniff", response.Header("X-Content-Type-Options"));
        Assert.DoesNotContain("secret internal detail", response.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", response.Body, StringComparison.Ordinal);
        Assert.True(JsonNode.Parse(response.Body)!["errors"]!.AsObject().ContainsKey("server"), response.Body);
    }
}
