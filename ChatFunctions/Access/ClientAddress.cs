using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Access;

/// <summary>
/// Who is calling, for per-client limits (rate limit, token budgets of anonymous callers). Always the connection's
/// remote address as the host's forwarded-headers handling left it, never a header read here:
/// <list type="bullet">
/// <item>Standalone host: ASP.NET Core's ForwardedHeaders middleware replaces the socket address with the
/// X-Forwarded-For entry only when the connection comes from a proxy listed in CHAT_TRUSTED_PROXIES (none by
/// default), so a client that sends its own X-Forwarded-For changes nothing.</item>
/// <item>Functions host: the host's proxy (YARP's default transformer) sets, not appends, X-Forwarded-For to the
/// address the host accepted the request from, and the worker's ASP.NET Core integration runs UseForwardedHeaders
/// trusting only loopback (the host), so the worker sees the platform's client address and a client's own header
/// is discarded before it reaches us.</item>
/// </list>
/// </summary>
public static class ClientAddress
{
    /// <summary>
    /// The caller's key: an IPv4 address ("203.0.113.7"), or for IPv6 the /64 network ("2001:db8:1:2::/64"), because one
    /// subscriber usually holds a whole /64 and could rotate through it; "unknown" when the host gives no address.
    /// </summary>
    public static string Resolve(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return KeyOf(context.Connection.RemoteIpAddress);
    }

    internal static string KeyOf(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
