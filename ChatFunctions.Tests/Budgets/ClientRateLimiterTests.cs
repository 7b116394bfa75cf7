using System.Net;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Budgets;

public class ClientRateLimiterTests
{
    /// <summary>The key a request from <paramref name="remote"/> is limited by, as the functions resolve it.</summary>
    private static string Address(string remote, string? forwardedFor = null) => ClientAddress.Resolve(From(remote, forwardedFor));

    private static DefaultHttpContext From(string remote, string? forwardedFor = null)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        if (forwardedFor is not null)
        {
            context.Request.Headers["X-Forwarded-For"] = forwardedFor;
        }

        return context;
    }

    [Fact]
    public void Off_AdmitsEverything()
    {
        using var limiter = new ClientRateLimiter(Options.Create(new ChatServiceOptions { RateLimitPerMinute = 0 }));

        Assert.All(Enumerable.Range(0, 100), _ => Assert.Null(limiter.TryAdmit(Address("10.0.0.1"))));
    }

    [Fact]
    public void OverTheLimit_IsRefusedWithAWait_PerClient()
    {
        using var limiter = new ClientRateLimiter(Options.Create(new ChatServiceOptions { RateLimitPerMinute = 2 }));

        Assert.Null(limiter.TryAdmit(Address("10.0.0.1")));
        Assert.Null(limiter.TryAdmit(Address("10.0.0.1")));
        var wait = limiter.TryAdmit(Address("10.0.0.1"));

        Assert.NotNull(wait);
        // The window's segment is the longest a sliding window makes anyone wait.
        Assert.InRange(wait.Value, TimeSpan.FromTicks(1), ClientRateLimiter.Window / ClientRateLimiter.SegmentsPerWindow);
        Assert.Null(limiter.TryAdmit(Address("10.0.0.2")));
    }

    [Fact]
    public void ForwardedForHeaders_DoNotMakeANewClient()
    {
        using var limiter = new ClientRateLimiter(Options.Create(new ChatServiceOptions { RateLimitPerMinute = 2 }));

        Assert.Null(limiter.TryAdmit(Address("10.0.0.1", "198.51.100.1")));
        Assert.Null(limiter.TryAdmit(Address("10.0.0.1", "198.51.100.2")));

        Assert.NotNull(limiter.TryAdmit(Address("10.0.0.1", "198.51.100.3")));
    }

    [Fact]
    public void AddressesOfOneIPv6Subscriber_ShareTheLimit()
    {
        using var limiter = new ClientRateLimiter(Options.Create(new ChatServiceOptions { RateLimitPerMinute = 1 }));

        Assert.Null(limiter.TryAdmit(Address("2001:db8:1:2::1")));

        Assert.NotNull(limiter.TryAdmit(Address("2001:db8:1:2:abcd::9")));
        Assert.Null(limiter.TryAdmit(Address("2001:db8:1:3::1")));
    }

    [Fact]
    public void A_refusal_over_the_limit_names_the_client_and_the_wait()
    {
        using var limiter = new ClientRateLimiter(Options.Create(new ChatServiceOptions { RateLimitPerMinute = 1 }));

        Assert.Null(limiter.Admit("10.0.0.1"));
        var refusal = limiter.Admit("10.0.0.1");

        Assert.NotNull(refusal);
        Assert.Equal((RefusalKind.TooManyRequests, "client"), (refusal.Kind, refusal.Field));
        Assert.InRange(refusal.RetryAfter!.Value, TimeSpan.FromTicks(1), ClientRateLimiter.Window / ClientRateLimiter.SegmentsPerWindow);
        Assert.Contains($"try again in {Math.Ceiling(refusal.RetryAfter.Value.TotalSeconds)} s", refusal.Detail, StringComparison.Ordinal);
    }
}
