using System.Text;
using ChatFunctions.Resumption;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace ChatFunctions.Tests.Resumption;

/// <summary>The follower's reads, aligned to the producer's beats, with a fake clock that starts on a beat.</summary>
public class StoredStreamSourceTests
{
    // 240 ms: its eighth (the look step) is a whole 30 ms.
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(240);
    private static readonly TimeSpan Step = Interval / 8;
    private static readonly TimeSpan Ease = TimeSpan.FromMilliseconds(4);

    private readonly FakeTimeProvider _time = new();
    private readonly List<(TimeSpan At, string? KnownVersion)> _reads = [];
    private readonly Mock<IStreamLogStore> _store = new();
    private readonly DateTimeOffset _start;

    /// <summary>The first beat after the start: stream "s"'s phase past the clock's multiple of the interval.</summary>
    private readonly TimeSpan _first;

    public StoredStreamSourceTests()
    {
        _start = _time.GetUtcNow();
        Assert.Equal(0, _start.UtcTicks % Interval.Ticks);
        var cadence = new FlushCadence(Interval, _time, "s");
        _first = cadence.Phase > TimeSpan.Zero ? cadence.Phase : Interval;
        Assert.Equal(_start + _first, cadence.StartOf(cadence.Beat + 1));
        _store.SetupGet(s => s.IsShared).Returns(true);
        _store.Setup(s => s.MarkReaderAsync("s", It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
    }

    /// <summary>Each read answers what <paramref name="found"/> says for its number (0-based): a frame, or nothing new.</summary>
    private StoredStreamSource Source(Func<int, bool> found)
    {
        _store.Setup(s => s.ReadTailAsync("s", It.IsAny<long>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string _, long _, string? known, CancellationToken _) =>
            {
                var n = _reads.Count;
                _reads.Add((_time.GetUtcNow() - _start, known));
                return found(n)
                    ? new StreamLogTail(Encoding.UTF8.GetBytes($"id: s:{n}\ndata: {{}}\n\n"), $"v{n}")
                    : new StreamLogTail(ReadOnlyMemory<byte>.Empty, known!);
            });
        var state = new StreamLogState(_start, 0, false, null, _start, null, "v-first");
        return new StoredStreamSource(_store.Object, "s", new StreamLogRead(ReadOnlyMemory<byte>.Empty, state), 0,
            _time, Interval, TimeSpan.FromHours(1), TimeSpan.FromHours(1), NullLogger.Instance);
    }

    /// <summary>One read: not before the clock reaches <paramref name="at"/>, at once when it does.</summary>
    private async Task ReadsAtAsync(StoredStreamSource source, TimeSpan at)
    {
        var wait = source.WaitAsync(CancellationToken.None).AsTask();
        _time.Advance(at - (_time.GetUtcNow() - _start) - TimeSpan.FromMilliseconds(1));
        Assert.False(wait.IsCompleted, $"read before {at.TotalMilliseconds} ms");
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await wait.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Reads_JustAfterEachOfTheProducersBeats_OnceABeatWhileItsBytesAreThere_AndASpeedyStorePullsTheReadEarlier()
    {
        var source = Source(_ => true);

        // The first look: a step after the next beat; each find at the first look eases the next a little earlier.
        await ReadsAtAsync(source, _first + Step);
        await ReadsAtAsync(source, (_first + Interval) + Step - Ease);
        await ReadsAtAsync(source, (_first + (2 * Interval)) + Step - (2 * Ease));

        Assert.Equal([_first + Step, (_first + Interval) + Step - Ease, (_first + (2 * Interval)) + Step - (2 * Ease)], _reads.Select(r => r.At));
    }

    [Fact]
    public async Task WithNothingNew_LooksAgainAStepLater_AtMostThreeTimesABeat_AndAFindOnALaterLookMovesTheFirstLookLater()
    {
        // Nothing in beat 1 (the producer appended nothing), the bytes one step late in beat 2.
        var source = Source(n => n == 4 || n == 5);

        await ReadsAtAsync(source, _first + Step);
        await ReadsAtAsync(source, _first + (2 * Step));
        await ReadsAtAsync(source, _first + (3 * Step));
        await ReadsAtAsync(source, (_first + Interval) + Step);
        await ReadsAtAsync(source, (_first + Interval) + (2 * Step));
        await ReadsAtAsync(source, (_first + (2 * Interval)) + (2 * Step));

        Assert.Equal(6, _reads.Count);
    }

    [Fact]
    public async Task EachRead_AsksOnlyForWhatChangedSinceTheVersionItLastSaw()
    {
        var source = Source(n => n != 1);

        await ReadsAtAsync(source, _first + Step);
        await ReadsAtAsync(source, (_first + Interval) + Step - Ease);
        await ReadsAtAsync(source, (_first + Interval) + (2 * Step) - Ease);

        Assert.Equal(["v-first", "v0", "v0"], _reads.Select(r => r.KnownVersion));
        Assert.True(source.TryCopy(new System.Buffers.ArrayBufferWriter<byte>(), int.MaxValue));
    }
}
