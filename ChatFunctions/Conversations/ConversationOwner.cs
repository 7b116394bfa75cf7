using System.Security.Cryptography;
using System.Text;
using ChatFunctions.Access;

namespace ChatFunctions.Conversations;

/// <summary>
/// The storage prefix of a signed-in user's conversations: SHA-256 of the validated token's tenant and object id
/// (lower case, as <see cref="CallerKey"/> spells them), hex. Never from request input, so no request can name
/// another user's prefix; no user id is stored in clear.
/// </summary>
public static class ConversationOwner
{
    public static string Of(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!caller.IsSignedIn || caller.TenantId is null)
        {
            throw new InvalidOperationException("Only a signed-in caller owns synced conversations.");
        }

        var key = CallerKey.ForUser(caller.TenantId, caller.ObjectId!).Value;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("chatfunctions-conversations-v1\n" + key)));
    }
}
