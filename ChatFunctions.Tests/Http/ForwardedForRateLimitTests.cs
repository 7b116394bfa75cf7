using System.Net.Http.Json;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Http;

/// <summary>The rate limit over real HTTP with X-Forwarded-For, trusted and not.</summary>
[Trait("Category", "Http")]
public sealed class ForwardedForRateLimitTests
{
    private static async Task<int> PostAsync(AppServer app, string? forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat/stream") { Content = JsonContent.Create(new { message = "hi [demo:tokens=1]" }) };
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        using var response = await app.Client.SendAsync(request);
        await response.Content.ReadAsStringAsync();
        return (int)response.StatusCode;
    }

    [Fact]
    public async Task RotatingForwardedFor_FromAnUntrustedPeer_DoesNotBypassTheLimit()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_RATE_LIMIT_PER_MINUTE"] = "2" });

        Assert.Equal(200, await PostAsync(app, "198.51.100.1"));
        Assert.Equal(200, await PostAsync(app, "198.51.100.2"));

        Assert.Equal(429, await PostAsync(app, "198.51.100.3"));
        Assert.Equal(429, await PostAsync(app, "203.0.113.9, 198.51.100.4"));
    }

    [Fact]
    public async Task ATrustedProxysForwardedFor_IsHonoured_PerForwardedClient()
    {
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_RATE_LIMIT_PER_MINUTE"] = "1",
            ["CHAT_TRUSTED_PROXIES"] = "10.9.0.0/16, 127.0.0.1",
        });

        Assert.Equal(200, await PostAsync(app, "198.51.100.1"));
        Assert.Equal(200, await PostAsync(app, "198.51.100.2"));
        Assert.Equal(429, await PostAsync(app, "198.51.100.1"));
        // The client can prepend anything; only the entry the trusted proxy appended counts.
        Assert.Equal(429, await PostAsync(app, "192.0.2.50, 198.51.100.2"));
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("10.0.0.0/40")]
    [InlineData("10.0.0.1;10.0.0.2")]
    public async Task AnInvalidTrustedProxyList_StopsTheAppAtStart_NamingTheSetting(string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_TRUSTED_PROXIES"] = value }));

        Assert.Contains("CHAT_TRUSTED_PROXIES", error.Message, StringComparison.Ordinal);
    }
}
