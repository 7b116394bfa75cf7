using ChatFunctions.Resumption;

namespace ChatFunctions.Tests.Resumption;

public class StreamIdTests
{
    [Fact]
    public void New_Is22Base64UrlCharacters_AndNeverRepeats()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => StreamId.New()).ToList();

        Assert.All(ids, id => Assert.True(StreamId.IsValid(id), id));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:1", "AAAAAAAAAAAAAAAAAAAAAA", 1)]
    [InlineData("ab-_AAAAAAAAAAAAAAAAAA:123456789", "ab-_AAAAAAAAAAAAAAAAAA", 123456789)]
    [InlineData(" AAAAAAAAAAAAAAAAAAAAAA:7 ", "AAAAAAAAAAAAAAAAAAAAAA", 7)]
    public void TryParseEventId_ReadsTheStreamAndTheFrame(string value, string stream, int sequence)
    {
        Assert.True(StreamId.TryParseEventId(value, out var parsedStream, out var parsedSequence));
        Assert.Equal(stream, parsedStream);
        Assert.Equal(sequence, parsedSequence);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("7")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:0")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:-1")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:+1")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:1e3")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:9999999999")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAA:1")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAA:1")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA/+:1")]
    [InlineData("../../AAAAAAAAAAAAAAAA:1")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:1:2")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA:١")]
    public void TryParseEventId_RefusesAnythingElse(string? value)
    {
        Assert.False(StreamId.TryParseEventId(value, out _, out _));
    }

    [Fact]
    public void TryParseEventId_RefusesHugeValues_WithoutScanningThem()
    {
        Assert.False(StreamId.TryParseEventId(new string('A', 10_000), out _, out _));
    }
}
