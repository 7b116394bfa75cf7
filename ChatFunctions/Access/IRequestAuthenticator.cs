using ChatFunctions.Chat;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Access;

/// <summary>
/// Decides who is calling before anything else happens. Called by the function classes themselves (not middleware),
/// so the Functions host and the standalone host authenticate identically.
/// </summary>
public interface IRequestAuthenticator
{
    ValueTask<AuthenticationResult> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken);
}

/// <summary>Either the caller, or the refusal: unauthenticated, forbidden, or sign-in unavailable.</summary>
public readonly record struct AuthenticationResult(Caller? Caller, Refusal? Rejection)
{
    public static implicit operator AuthenticationResult(Caller caller) => new(caller, null);

    public static implicit operator AuthenticationResult(Refusal rejection) => new(null, rejection);
}

/// <summary>Sign-in off (CHAT_AUTH_ENABLED=false): everyone is anonymous, known by client address.</summary>
public sealed class AnonymousAuthenticator : IRequestAuthenticator
{
    public ValueTask<AuthenticationResult> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ValueTask.FromResult<AuthenticationResult>(Caller.Anonymous(ClientAddress.Resolve(context)));
    }
}
