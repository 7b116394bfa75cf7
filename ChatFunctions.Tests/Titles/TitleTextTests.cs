using ChatFunctions.Titles;

namespace ChatFunctions.Tests.Titles;

public sealed class TitleTextTests
{
    [Theory]
    [InlineData("Reversing a list in Python", "Reversing a list in Python")]
    [InlineData("\"Reversing a List in Python\"", "Reversing a List in Python")]
    [InlineData("**Title:** Python's list reversal.", "Python's list reversal")]
    [InlineData("# Trip to Lisbon\n\nHere is why: ...", "Trip to Lisbon")]
    [InlineData("\n\n  `Sorting`   _algorithms_ compared!  \n", "Sorting algorithms compared")]
    [InlineData("‘Weekend plans’", "Weekend plans")]
    [InlineData("[Budget](http://evil.example) review", "Budget(http://evil.example) review")]
    [InlineData("Tab\tand\u200Bzero-width\u0007bell", "Tab andzero-widthbell")]
    public void Sanitize_leaves_one_plain_line(string raw, string expected) =>
        Assert.Equal(expected, TitleText.Sanitize(raw));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  \n **  \n \"\" ")]
    [InlineData("...")]
    public void Sanitize_returns_null_when_nothing_usable_is_left(string? raw) => Assert.Null(TitleText.Sanitize(raw));

    [Fact]
    public void Sanitize_cuts_a_long_title_at_a_word_boundary_within_the_limit()
    {
        var raw = string.Join(' ', Enumerable.Repeat("conversation", 20));

        var title = TitleText.Sanitize(raw)!;

        Assert.InRange(title.Length, TitleText.MaxChars / 2, TitleText.MaxChars);
        Assert.EndsWith("conversation", title, StringComparison.Ordinal);
    }
}
