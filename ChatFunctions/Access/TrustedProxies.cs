using System.Net;
using ChatFunctions.Configuration;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Access;

/// <summary>
/// CHAT_TRUSTED_PROXIES: the proxies whose X-Forwarded-For the standalone host believes, as comma-separated IP
/// addresses or CIDR networks ("10.0.0.4, 10.1.0.0/16, fd00::/8"). Empty (the default) trusts nobody: the client is the
/// socket's peer. The Functions host ignores it (its worker trusts only the host's own proxy; see ClientAddress).
/// </summary>
public static class TrustedProxies
{
    public const string SettingName = "CHAT_TRUSTED_PROXIES";

    public static bool TryParse(string? value, out IReadOnlyList<IPNetwork> networks, out string? error)
    {
        var parsed = new List<IPNetwork>();
        networks = parsed;
        error = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        foreach (var raw in value.Split(','))
        {
            var entry = raw.Trim();
            if (IPNetwork.TryParse(entry, out var network))
            {
                parsed.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                parsed.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                error = $"{SettingName}: '{entry}' is neither an IP address nor a CIDR network (for example 10.0.0.4 or 10.1.0.0/16); separate entries with commas.";
                return false;
            }
        }

        return true;
    }
}

/// <summary>Stops the app at start when CHAT_TRUSTED_PROXIES does not parse, naming the setting and the entry.</summary>
public sealed class TrustedProxiesValidator : IValidateOptions<ChatServiceOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return TrustedProxies.TryParse(options.TrustedProxies, out _, out var error)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(error!);
    }
}
