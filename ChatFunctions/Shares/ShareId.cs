using System.Buffers.Text;
using System.Security.Cryptography;

namespace ChatFunctions.Shares;

/// <summary>
/// A shared link's id: 128 bits from the operating system's CSPRNG, base64url without padding (22 characters). The id
/// is the only thing that opens a share, so it must not be guessable; it is also safe as a blob name and in a URL.
/// </summary>
public static class ShareId
{
    public const int Bytes = 16;

    public const int Length = 22;

    private static readonly System.Buffers.SearchValues<char> Alphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static string New() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(Bytes));

    /// <summary>True for exactly what <see cref="New"/> makes: 22 base64url characters (132 bits) whose last 4 bits,
    /// past the 128th, are zero, so the last is 'A', 'Q', 'g' or 'w' and one share has one spelling.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: Length }
        && !id.AsSpan().ContainsAnyExcept(Alphabet)
        && id[^1] is 'A' or 'Q' or 'g' or 'w';
}
