using System.Text;
using System.Text.RegularExpressions;

namespace ChatFunctions.Titles;

/// <summary>
/// What a model's answer to the title question may become: the first line that has words, without markdown marks,
/// surrounding quotes, a "Title:" label, control characters or final punctuation, cut at a word boundary to
/// <see cref="MaxChars"/>. The page renders it as text; this keeps it one tidy line whatever the model wrote.
/// </summary>
public static partial class TitleText
{
    public const int MaxChars = 60;

    [GeneratedRegex(@"^\s*(title|titre|título|titel)\s*[:：-]\s*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Label();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();

    // Markdown marks and quotes anywhere; an apostrophe inside a word (Python's) stays.
    private const string Marks = "*_`#>[]~|\"“”„«»";

    private const string EdgeQuotes = "'‘’";

    private const string FinalPunctuation = ".,;:!。、，；：！ ";

    /// <summary>The title, or null when nothing usable is left.</summary>
    public static string? Sanitize(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        foreach (var line in raw.Split('\n'))
        {
            var text = Clean(line);
            if (text.Length > 0)
            {
                return text;
            }
        }

        return null;
    }

    private static string Clean(string line)
    {
        var builder = new StringBuilder(line.Length);
        foreach (var c in line)
        {
            if (char.IsControl(c) || Marks.Contains(c, StringComparison.Ordinal) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            {
                builder.Append(c is '\t' or '_' ? ' ' : '\0');
                continue;
            }

            builder.Append(c);
        }

        var text = Whitespace().Replace(builder.ToString().Replace("\0", "", StringComparison.Ordinal), " ").Trim();
        text = Label().Replace(text, "");
        text = text.Trim().Trim(EdgeQuotes.ToCharArray()).Trim().TrimStart('-', '•', ' ');
        if (text.Length > MaxChars)
        {
            var cut = text.LastIndexOf(' ', MaxChars);
            text = cut > MaxChars / 2 ? text[..cut] : text[..MaxChars];
        }

        return text.TrimEnd(FinalPunctuation.ToCharArray()).Trim();
    }
}
