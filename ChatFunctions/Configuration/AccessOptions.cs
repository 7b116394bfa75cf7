using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>
/// Optional Microsoft Entra ID sign-in for the chat API. Off by default (the demo); when on, every endpoint but
/// /api/health wants <c>Authorization: Bearer</c> with an access token for the API's app registration.
/// </summary>
public sealed class AccessOptions
{
    public const string DefaultInstance = "https://login.microsoftonline.com/";

    [ConfigurationKeyName("CHAT_AUTH_ENABLED")]
    public bool Enabled { get; set; }

    /// <summary>The directory (tenant) id whose tokens are accepted. One tenant: common/organizations would accept any.</summary>
    [ConfigurationKeyName("CHAT_AUTH_TENANT_ID")]
    public string? TenantId { get; set; }

    /// <summary>The API's app registration (application id); audiences <c>api://&lt;id&gt;</c> and <c>&lt;id&gt;</c> are accepted.</summary>
    [ConfigurationKeyName("CHAT_AUTH_CLIENT_ID")]
    public string? ClientId { get; set; }

    /// <summary>The authority host; tests point it at a local OpenID metadata server.</summary>
    [ConfigurationKeyName("CHAT_AUTH_INSTANCE")]
    public Uri Instance { get; set; } = new(DefaultInstance);

    /// <summary>Where the OpenID Connect metadata (issuer and signing keys) is read from.</summary>
    public Uri MetadataAddress => new(new Uri(Instance.AbsoluteUri.TrimEnd('/') + "/"), $"{TenantId}/v2.0/.well-known/openid-configuration");
}
