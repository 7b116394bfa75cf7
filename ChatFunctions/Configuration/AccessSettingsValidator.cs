using Microsoft.Extensions.Options;

namespace ChatFunctions.Configuration;

/// <summary>Sign-in settings that must go together: an enabled sign-in needs one tenant and the API's client id.</summary>
public sealed class AccessSettingsValidator : IValidateOptions<AccessOptions>
{
    // These accept tokens of any tenant (and their issuer is a template): a budget per caller would mean little.
    private static readonly string[] MultiTenantAliases = ["common", "organizations", "consumers"];

    public ValidateOptionsResult Validate(string? name, AccessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.TenantId))
        {
            failures.Add("CHAT_AUTH_TENANT_ID: is required when CHAT_AUTH_ENABLED is true (the directory id of your tenant).");
        }
        else if (MultiTenantAliases.Contains(options.TenantId.Trim(), StringComparer.OrdinalIgnoreCase)
            || options.TenantId.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.')))
        {
            failures.Add($"CHAT_AUTH_TENANT_ID: must be one tenant's id or domain, not '{options.TenantId}'.");
        }

        if (string.IsNullOrWhiteSpace(options.ClientId))
        {
            failures.Add("CHAT_AUTH_CLIENT_ID: is required when CHAT_AUTH_ENABLED is true (the API app registration's application id).");
        }

        if (!options.Instance.IsAbsoluteUri
            || !(options.Instance.Scheme == Uri.UriSchemeHttps || (options.Instance.Scheme == Uri.UriSchemeHttp && options.Instance.IsLoopback)))
        {
            failures.Add($"CHAT_AUTH_INSTANCE: must be an absolute https:// URL such as {AccessOptions.DefaultInstance} (http only for a loopback test server).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
