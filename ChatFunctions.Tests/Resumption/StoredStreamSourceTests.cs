using ChatFunctions.Resumption;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace ChatFunctions.Tests.Resumption;

/// <summary>The follower's polling, with a fake clock.</summary>
public class StoredStreamSourceTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(125);

    [Fact]
    public async Task Polls_OnAFixedBeat_ASlowReadComesOutOfTheWait()
    {
        var time = new FakeTimeProvider();
        var reads = new List<DateTimeOffset>();
        var state = new StreamLogState(time.GetUtcNow(), 0, false, null, time.GetUtcNow(), null);
        var store = new Mock<IStreamLogStore>();
        store.SetupGet(s => s.IsShared).Returns(true);
        store.Setup(s => s.ReadAsync("s", It.IsAny<long>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() =>
            {
                reads.Add(time.GetUtcNow());
                time.Advance(TimeSpan.FromMilliseconds(100)); // a read that takes most of the interval
                return new StreamLogRead(ReadOnlyMemory<byte>.Empty, state);
            });
        var source = new StoredStreamSource(store.Object, "s", new StreamLogRead(ReadOnlyMemory<byte>.Empty, state), 0,
            time, Poll, TimeSpan.FromHours(1), TimeSpan.FromHours(1), NullLogger.Instance);
        var start = time.GetUtcNow();

        var first = source.WaitAsync(CancellationToken.None).AsTask();
        time.Advance(Poll);
        await first.WaitAsync(TimeSpan.FromSeconds(10));

        var second = source.WaitAsync(CancellationToken.None).AsTask();
        time.Advance(Poll - TimeSpan.FromMilliseconds(100)); // what is left of the beat after the slow read
        await second.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([start + Poll, start + 2 * Poll], reads);
    }
}
