using System.Net;
using ChatFunctions.Access;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Tests.Access;

public class ClientAddressTests
{
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("::1", "::/64")]
    public void TheKey_IsTheConnectionAddress_IPv6ByItsSlash64(string remote, string expected)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);

        Assert.Equal(expected, ClientAddress.Resolve(context));
    }

    [Fact]
    public void AForwardedForHeader_IsNeverReadHere()
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse("10.0.0.9");
        context.Request.Headers["X-Forwarded-For"] = "198.51.100.4";

        Assert.Equal("10.0.0.9", ClientAddress.Resolve(context));
    }

    [Fact]
    public void NoAddress_IsUnknown() => Assert.Equal("unknown", ClientAddress.Resolve(new DefaultHttpContext()));
}
