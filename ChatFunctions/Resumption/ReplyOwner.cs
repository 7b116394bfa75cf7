using System.Security.Cryptography;
using System.Text;
using ChatFunctions.Access;

namespace ChatFunctions.Resumption;

/// <summary>Who may resume or stop a reply: the signed-in user who started it, kept as a hash so that no user id is
/// stored with the stream; nobody in particular for anonymous replies (the stream id is the capability).</summary>
public static class ReplyOwner
{
    public static string? KeyOf(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.IsSignedIn
            ? System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(caller.Key.Value)))
            : null;
    }
}
