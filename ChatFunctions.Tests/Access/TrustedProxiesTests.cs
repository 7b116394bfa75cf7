using System.Net;
using ChatFunctions.Access;

namespace ChatFunctions.Tests.Access;

public class TrustedProxiesTests
{
    [Theory]
    [InlineData(null, new string[0])]
    [InlineData("  ", new string[0])]
    [InlineData("10.0.0.4", new[] { "10.0.0.4/32" })]
    [InlineData("10.0.0.4, 10.1.0.0/16 ,fd00::/8, ::1", new[] { "10.0.0.4/32", "10.1.0.0/16", "fd00::/8", "::1/128" })]
    public void TheList_ParsesAddressesAndNetworks(string? value, string[] expected)
    {
        Assert.True(TrustedProxies.TryParse(value, out var networks, out var error));

        Assert.Null(error);
        Assert.Equal(expected, networks.Select(n => n.ToString()));
    }

    [Theory]
    [InlineData("proxy.example.com")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.1 10.0.0.2")]
    public void AnEntryThatIsNotAnAddressOrNetwork_IsNamedInTheError(string value)
    {
        Assert.False(TrustedProxies.TryParse(value, out _, out var error));

        Assert.StartsWith("CHAT_TRUSTED_PROXIES: '", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ANetwork_ContainsItsAddresses()
    {
        Assert.True(TrustedProxies.TryParse("10.1.0.0/16", out var networks, out _));

        Assert.True(networks[0].Contains(IPAddress.Parse("10.1.200.3")));
        Assert.False(networks[0].Contains(IPAddress.Parse("10.2.0.1")));
    }
}
