using ChatFunctions.Chat;

namespace ChatFunctions.Tests.Chat;

public class ChatTextTests
{
    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("tab\tLF\nCR\r", "tab\tLF\nCR\r")]
    [InlineData("a\u0000b\u001bc\u007fd\u0080e\u009ff", "abcdef")]
    [InlineData("emoji 😀 and 👩\u200d💻", "emoji 😀 and 👩\u200d💻")]
    [InlineData("\u200fשלום\u00ad", "\u200fשלום\u00ad")]
    public void Clean_RemovesControlsAndBrokenSurrogates_AndKeepsEverythingElse(string input, string expected) =>
        Assert.Equal(expected, ChatText.Clean(input));

    [Fact]
    public void Clean_ReplacesUnpairedSurrogates()
    {
        // Built from chars: xunit's test-case serialization would mangle them as attribute arguments.
        var text = new string(['a', (char)0xD800, 'b', (char)0xDC00, (char)0xD83D, (char)0xDE00, (char)0xDC00]);

        Assert.Equal("a\ufffdb\ufffd😀\ufffd", ChatText.Clean(text));
    }

    [Fact]
    public void Clean_ReturnsTheSameString_WhenThereIsNothingToRemove()
    {
        var text = "nothing to do here 😀";

        Assert.Same(text, ChatText.Clean(text));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData(" \t\n\u00a0\u3000", true)]
    [InlineData("\u200b\ufeff\u2060\u200e", true)]
    [InlineData("\u3164\u115f\u1160\uffa0\u2800", true)]
    [InlineData(".", false)]
    [InlineData("\u200ba", false)]
    [InlineData("😀", false)]
    [InlineData("\ufffd", false)]
    public void IsBlank_MeansNothingVisible(string text, bool blank) => Assert.Equal(blank, ChatText.IsBlank(text));
}
