using System.Security.Claims;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ChatFunctions.Access;

/// <summary>
/// Validates Microsoft Entra ID access tokens for the API with Microsoft.IdentityModel, the library under ASP.NET
/// Core's JwtBearer and Microsoft.Identity.Web. We call it from the functions instead of adding JwtBearer middleware
/// because the isolated worker has no place for UseAuthentication in front of a function on both of our hosts, and
/// because JwtBearer writes its own empty 401 where we answer with RFC 9457 problems.
/// Checks: a signature (RS256 only; unsigned tokens refused) by a key from the tenant's OpenID Connect metadata
/// (fetched once, cached, refreshed when an unknown key id shows up), the metadata's issuer, an audience of
/// <c>api://&lt;clientId&gt;</c> or <c>&lt;clientId&gt;</c>, lifetime with one minute of skew, and the <c>chat</c>
/// scope (delegated) or app role (application).
/// </summary>
public sealed class EntraIdAuthenticator : IRequestAuthenticator, IDisposable
{
    public const string RequiredScope = "chat";
    public const string RequiredAppRole = "chat";
    internal const string Field = "Authorization";
    internal static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private readonly AccessOptions _options;
    private readonly HttpClient _metadataClient;
    private readonly ConfigurationManager<OpenIdConnectConfiguration> _metadata;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly ILogger<EntraIdAuthenticator> _logger;

    public EntraIdAuthenticator(IOptions<AccessOptions> options, ILogger<EntraIdAuthenticator> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
        _metadataClient = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        _metadata = new ConfigurationManager<OpenIdConnectConfiguration>(
            _options.MetadataAddress.AbsoluteUri,
            new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(_metadataClient) { RequireHttps = _options.MetadataAddress.Scheme == Uri.UriSchemeHttps });
        Log.AuthConfigured(logger, _options.ClientId ?? "", _options.MetadataAddress.AbsoluteUri);
    }

    public async ValueTask<AuthenticationResult> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var header = context.Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header))
        {
            return Unauthorized("missing", "Sign in first: this API wants an 'Authorization: Bearer <access token>' header.", invalidToken: false);
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
        {
            return Unauthorized("malformed", "The Authorization header must be 'Bearer <access token>'.", invalidToken: true);
        }

        var token = header["Bearer ".Length..].Trim();
        try
        {
            var configuration = await _metadata.GetConfigurationAsync(cancellationToken);
            var result = await _handler.ValidateTokenAsync(token, Parameters(configuration));
            if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
            {
                // Keys rotate: fetch the metadata again (at most every five minutes, the manager's own limit) and retry once.
                _metadata.RequestRefresh();
                configuration = await _metadata.GetConfigurationAsync(cancellationToken);
                result = await _handler.ValidateTokenAsync(token, Parameters(configuration));
            }

            return Authorize(result);
        }
        catch (InvalidOperationException ex)
        {
            // The metadata cannot be fetched, first or again for a new key: nobody's token can be checked, which is our
            // problem, not theirs.
            Log.AuthMetadataUnavailable(_logger, _options.MetadataAddress.Host, ex);
            return new Refusal(RefusalKind.Unavailable, Field,
                "Sign-in cannot be checked right now: the identity provider's metadata is unreachable.") { RetryAfter = TimeSpan.FromSeconds(30) };
        }
    }

    private AuthenticationResult Authorize(TokenValidationResult result)
    {
        if (!result.IsValid)
        {
            var (reason, detail) = Describe(result.Exception);
            return Unauthorized(reason, detail, invalidToken: true);
        }

        var identity = result.ClaimsIdentity;
        if (!Grants(identity))
        {
            Log.AuthRejected(_logger, StatusCodes.Status403Forbidden, "insufficient_scope");
            return new Refusal(RefusalKind.Forbidden, Field,
                $"The access token does not grant the '{RequiredScope}' scope or the '{RequiredAppRole}' app role of this API.")
            {
                Challenge = $"Bearer error=\"insufficient_scope\", scope=\"api://{_options.ClientId}/{RequiredScope}\"",
            };
        }

        var objectId = identity.FindFirst("oid")?.Value ?? identity.FindFirst("sub")?.Value;
        var tenantId = identity.FindFirst("tid")?.Value ?? _options.TenantId!;
        if (string.IsNullOrEmpty(objectId))
        {
            return Unauthorized("no_subject", "The access token names no user or application (no 'oid' or 'sub' claim).", invalidToken: true);
        }

        return Caller.User(tenantId, objectId);
    }

    private TokenValidationParameters Parameters(OpenIdConnectConfiguration configuration) => new()
    {
        ValidIssuer = configuration.Issuer,
        ValidAudiences = [$"api://{_options.ClientId}", _options.ClientId],
        IssuerSigningKeys = configuration.SigningKeys,
        ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
        // The handler checks the lifetime: exp required, nbf and exp against the clock with one minute of skew.
        ClockSkew = ClockSkew,
    };

    private static bool Grants(ClaimsIdentity identity)
    {
        var scopes = identity.FindFirst("scp")?.Value?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        return scopes.Contains(RequiredScope, StringComparer.Ordinal)
            || identity.FindAll("roles").Any(role => string.Equals(role.Value, RequiredAppRole, StringComparison.Ordinal));
    }

    /// <summary>A reason for logs and metrics and a detail for the caller; neither quotes the token.</summary>
    private static (string Reason, string Detail) Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => ("expired", "The access token has expired; sign in again."),
        SecurityTokenNotYetValidException => ("not_yet_valid", "The access token is not valid yet."),
        SecurityTokenNoExpirationException => ("no_expiry", "The access token has no expiry."),
        SecurityTokenInvalidAudienceException => ("audience", "The access token was issued for another API."),
        SecurityTokenInvalidIssuerException => ("issuer", "The access token comes from another tenant or authority."),
        SecurityTokenInvalidAlgorithmException => ("algorithm", "The access token's signing algorithm is not accepted."),
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => ("signature", "The access token's signature is not valid."),
        SecurityTokenMalformedException or ArgumentException => ("malformed", "The bearer token is not a well-formed JWT."),
        _ => ("invalid", "The access token is not valid."),
    };

    private Refusal Unauthorized(string reason, string detail, bool invalidToken)
    {
        Log.AuthRejected(_logger, StatusCodes.Status401Unauthorized, reason);
        // RFC 6750: a bare challenge when no token came, error="invalid_token" when one did and failed.
        var challenge = invalidToken ? $"Bearer error=\"invalid_token\", error_description=\"{detail.Replace("\"", "'", StringComparison.Ordinal)}\"" : "Bearer";
        return new Refusal(RefusalKind.Unauthenticated, Field, detail)
        {
            Challenge = challenge,
        };
    }

    public void Dispose() => _metadataClient.Dispose();
}
