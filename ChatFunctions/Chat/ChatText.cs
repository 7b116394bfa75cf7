using System.Globalization;
using System.Text;

namespace ChatFunctions.Chat;

/// <summary>
/// What of a client's text reaches the model, and when it counts as empty.
/// <list type="bullet">
/// <item>Removed: control characters (Unicode Cc: C0, DEL, C1) other than tab, line feed and carriage return. They
/// carry no meaning in chat text, NUL in particular breaks tools downstream, and assistant turns echo model output
/// back, so refusing them could lock a conversation; removing them changes nothing a reader can see.</item>
/// <item>Replaced by U+FFFD: unpaired surrogates (a JSON "\ud800" escape), which are not text at all.</item>
/// <item>Kept: format characters (Cf) inside text: zero-width joiners build emoji, direction marks are needed in
/// Arabic and Hebrew, soft hyphens are harmless.</item>
/// <item>Blank (400): text with nothing visible left, i.e. only whitespace, controls, format characters (zero-width
/// space, BOM, direction marks) and the invisible filler letters (Hangul fillers, braille blank).</item>
/// </list>
/// </summary>
internal static class ChatText
{
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var firstBad = FirstToClean(text);
        if (firstBad < 0)
        {
            return text;
        }

        var cleaned = new StringBuilder(text.Length);
        cleaned.Append(text, 0, firstBad);
        for (var i = firstBad; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cleaned.Append(c).Append(text[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                cleaned.Append('\uFFFD');
            }
            else if (!IsRemovedControl(c))
            {
                cleaned.Append(c);
            }
        }

        return cleaned.ToString();
    }

    public static bool IsBlank(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var rune in text.EnumerateRunes())
        {
            if (!IsInvisible(rune))
            {
                return false;
            }
        }

        return true;
    }

    private static int FirstToClean(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (IsRemovedControl(c))
            {
                return i;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsRemovedControl(char c) => char.IsControl(c) && c is not ('\t' or '\n' or '\r');

    private static bool IsInvisible(Rune rune) =>
        Rune.IsWhiteSpace(rune)
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
        // Letters and symbols that render as nothing: Hangul fillers and the blank braille pattern.
        || rune.Value is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800;
}
