using System.Text.RegularExpressions;

namespace ChatFunctions.Conversations;

/// <summary>
/// A conversation's id as the page makes it (a UUID, or any 1 to 64 letters, digits, '-' and '_'): safe as one blob
/// name segment and in a URL without escaping, so an id can never reach another user's prefix.
/// </summary>
public static partial class ConversationId
{
    public const int MaxLength = 64;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);
}
