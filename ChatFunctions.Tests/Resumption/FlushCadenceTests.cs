using ChatFunctions.Resumption;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.Resumption;

public class FlushCadenceTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    [Fact]
    public void A_streams_beats_are_the_same_on_every_instance_and_streams_are_spread_over_the_interval()
    {
        var time = new FakeTimeProvider();
        var ids = Enumerable.Range(0, 64).Select(_ => StreamLogStoreContract.NewStreamId()).ToArray();

        foreach (var id in ids)
        {
            // Another process builds its own cadence from the id alone and lands on the same instants.
            var here = new FlushCadence(Interval, time, id);
            var there = new FlushCadence(Interval, new FakeTimeProvider(time.GetUtcNow()), id);
            Assert.Equal(here.StartOf(here.Beat + 1), there.StartOf(there.Beat + 1));
            Assert.InRange(here.Phase, TimeSpan.Zero, Interval - TimeSpan.FromTicks(1));
            Assert.True(here.StartOf(here.Beat) <= time.GetUtcNow() && time.GetUtcNow() < here.StartOf(here.Beat + 1));
        }

        // 64 random ids over the interval's eighths: not all on one instant (as without a phase they would be).
        var eighths = ids.Select(id => new FlushCadence(Interval, time, id).Phase / (Interval / 8)).Select(e => (int)e).Distinct().Count();
        Assert.True(eighths >= 4, $"{eighths} of 8 eighths used");
    }
}
