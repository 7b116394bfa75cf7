using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// A stand-in for Microsoft Entra ID on a loopback port: the v2.0 OpenID Connect metadata and JWKS the way
/// login.microsoftonline.com serves them for one tenant, and access tokens minted with an RSA key made here.
/// </summary>
public sealed class TestAuthority : IAsyncDisposable
{
    public const string TenantId = "6a3f0c1e-2b4d-4e5f-8a9b-0c1d2e3f4a5b";
    public const string ClientId = "2f6e8d4c-1a3b-4c5d-9e7f-a1b2c3d4e5f6";

    private readonly WebApplication _app;
    private readonly List<RsaSecurityKey> _published;

    private TestAuthority(WebApplication app, Uri instance, RsaSecurityKey signingKey, List<RsaSecurityKey> published)
    {
        _app = app;
        _published = published;
        Instance = instance;
        SigningKey = signingKey;
    }

    /// <summary>What CHAT_AUTH_INSTANCE points at.</summary>
    public Uri Instance { get; }

    public string Issuer => $"{Instance.AbsoluteUri.TrimEnd('/')}/{TenantId}/v2.0";

    /// <summary>The key the metadata publishes (kid "test-key-1").</summary>
    public RsaSecurityKey SigningKey { get; }

    /// <summary>Settings that turn sign-in on against this authority.</summary>
    public Dictionary<string, string> Settings() => new()
    {
        ["CHAT_AUTH_ENABLED"] = "true",
        ["CHAT_AUTH_TENANT_ID"] = TenantId,
        ["CHAT_AUTH_CLIENT_ID"] = ClientId,
        ["CHAT_AUTH_INSTANCE"] = Instance.AbsoluteUri,
    };

    public static RsaSecurityKey NewKey(string keyId) => new(RSA.Create(2048)) { KeyId = keyId };

    /// <summary>Key rotation: the JWKS publishes <paramref name="key"/> from now on, beside the first key.</summary>
    public void Publish(RsaSecurityKey key)
    {
        lock (_published)
        {
            _published.Add(key);
        }
    }

    public static async Task<TestAuthority> StartAsync()
    {
        var key = NewKey("test-key-1");
        var published = new List<RsaSecurityKey> { key };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        Uri? instance = null;
        app.MapGet("/{tenant}/v2.0/.well-known/openid-configuration", (string tenant) => tenant != TenantId ? Results.NotFound() : Results.Text(
            JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["issuer"] = $"{instance!.AbsoluteUri.TrimEnd('/')}/{TenantId}/v2.0",
                ["jwks_uri"] = $"{instance.AbsoluteUri.TrimEnd('/')}/{TenantId}/discovery/v2.0/keys",
                ["authorization_endpoint"] = $"{instance.AbsoluteUri.TrimEnd('/')}/{TenantId}/oauth2/v2.0/authorize",
                ["token_endpoint"] = $"{instance.AbsoluteUri.TrimEnd('/')}/{TenantId}/oauth2/v2.0/token",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                ["response_types_supported"] = new[] { "code", "id_token", "code id_token", "id_token token" },
                ["subject_types_supported"] = new[] { "pairwise" },
            }), "application/json"));
        app.MapGet("/{tenant}/discovery/v2.0/keys", () =>
        {
            lock (published)
            {
                return Results.Text(JsonSerializer.Serialize(new
                {
                    keys = published.Select(k => k.Rsa.ExportParameters(includePrivateParameters: false)).Zip(published, (parameters, k) =>
                        new { kty = "RSA", use = "sig", kid = k.KeyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) }),
                }), "application/json");
            }
        });
        await app.StartAsync();
        instance = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return new TestAuthority(app, instance, key, published);
    }

    /// <summary>A token as Entra ID issues it for a signed-in user of the SPA calling this API with the chat scope.</summary>
    public SecurityTokenDescriptor UserToken(string objectId = "11111111-2222-3333-4444-555555555555", string? scope = "chat")
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["oid"] = objectId, ["tid"] = TenantId, ["sub"] = "subject-" + objectId, ["ver"] = "2.0" };
        if (scope is not null)
        {
            claims["scp"] = scope;
        }

        return new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = ClientId,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddHours(1),
            SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.RsaSha256),
        };
    }

    public static string Mint(SecurityTokenDescriptor descriptor) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
