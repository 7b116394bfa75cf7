using ChatFunctions.Shares;

namespace ChatFunctions.Tests.Shares;

public class ShareIdTests
{
    [Fact]
    public void A_new_id_is_22_base64url_characters_holding_128_random_bits()
    {
        var ids = Enumerable.Range(0, 2_000).Select(_ => ShareId.New()).ToList();

        Assert.All(ids, id => Assert.Matches("^[A-Za-z0-9_-]{22}$", id));
        Assert.All(ids, id => Assert.True(ShareId.IsValid(id), id));
        Assert.All(ids, id => Assert.Equal(ShareId.Bytes, Convert.FromBase64String(id.Replace('-', '+').Replace('_', '/') + "==").Length));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(128, ShareId.Bytes * 8);
    }

    [Fact]
    public void Every_bit_of_the_id_varies()
    {
        // A fixed or biased byte (a counter, a timestamp, a truncated GUID with its version nibble) shows as a bit that is
        // the same in every id: over 2,000 ids each of the 128 bits is set in between 35 % and 65 % of them (a fair bit
        // falls outside that with a probability below 1e-40).
        var ids = Enumerable.Range(0, 2_000).Select(_ => Convert.FromBase64String(ShareId.New().Replace('-', '+').Replace('_', '/') + "==")).ToList();

        for (var bit = 0; bit < 128; bit++)
        {
            var set = ids.Count(bytes => (bytes[bit / 8] & (1 << (bit % 8))) != 0);
            Assert.InRange(set, 700, 1_300);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA+A")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA/A")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAB")]
    [InlineData("../links/AAAAAAAAAAAAAA")]
    public void Anything_but_a_canonical_id_is_invalid(string? id)
    {
        Assert.False(ShareId.IsValid(id));
    }
}
