using ChatFunctions.Resumption;

namespace ChatFunctions.Tests.Resumption;

public sealed class InMemoryStreamLogStoreTests : StreamLogStoreContract, IDisposable
{
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(60);
    private readonly InMemoryStreamLogStore _store;

    public InMemoryStreamLogStoreTests() => _store = new InMemoryStreamLogStore(Time, Retention);

    protected override IStreamLogStore Store => _store;

    public void Dispose() => _store.Dispose();

    [Fact]
    public void It_is_not_shared_across_instances() => Assert.False(_store.IsShared);

    [Fact]
    public async Task Logs_older_than_the_retention_are_swept_by_the_timer_and_free_their_bytes()
    {
        var old = NewStreamId();
        await _store.CreateAsync(old, null, default);
        await _store.AppendAsync(old, 0, Frame(old, 1, "old"), default);
        Time.Advance(TimeSpan.FromMinutes(30));
        var young = NewStreamId();
        await _store.CreateAsync(young, null, default);
        var youngFrame = Frame(young, 1, "young");
        await _store.AppendAsync(young, 0, youngFrame, default);

        Time.Advance(TimeSpan.FromMinutes(29));
        Assert.NotNull(await _store.GetStateAsync(old, default));

        Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(await _store.GetStateAsync(old, default));
        Assert.Null(await _store.ReadAsync(old, 0, default));
        Assert.False(await _store.RequestCancelAsync(old, default));
        Assert.NotNull(await _store.GetStateAsync(young, default));
        Assert.Equal(1, _store.Count);
        Assert.Equal(youngFrame.Length, _store.TotalBytes);

        Time.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(0, _store.Count);
        Assert.Equal(0, _store.TotalBytes);
    }

    [Fact]
    public async Task An_append_to_a_swept_log_fails_as_unavailable()
    {
        var id = NewStreamId();
        await _store.CreateAsync(id, null, default);

        Time.Advance(Retention + InMemoryStreamLogStore.SweepInterval);

        await Assert.ThrowsAsync<StreamLogUnavailableException>(() => _store.AppendAsync(id, 0, Frame(id, 1, "late"), default));
    }

    [Fact]
    public async Task Appends_past_the_memory_bound_fail_and_the_bytes_come_back_after_the_sweep()
    {
        using var store = new InMemoryStreamLogStore(Time, Retention, maxTotalBytes: 100);
        var first = NewStreamId();
        var second = NewStreamId();
        await store.CreateAsync(first, null, default);
        await store.CreateAsync(second, null, default);
        await store.AppendAsync(first, 0, new byte[60], default);

        await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.AppendAsync(second, 0, new byte[41], default));
        await store.AppendAsync(second, 0, new byte[40], default);
        Assert.Equal(100, store.TotalBytes);

        Time.Advance(Retention + InMemoryStreamLogStore.SweepInterval);
        var third = NewStreamId();
        await store.CreateAsync(third, null, default);
        await store.AppendAsync(third, 0, new byte[100], default);
        Assert.Equal(100, store.TotalBytes);
    }

    [Fact]
    public async Task Last_modified_follows_appends_and_state_changes()
    {
        var id = NewStreamId();
        await _store.CreateAsync(id, null, default);
        Assert.Equal(Start, (await _store.GetStateAsync(id, default))!.LastModified);

        Time.Advance(TimeSpan.FromSeconds(1));
        await _store.AppendAsync(id, 0, Frame(id, 1, "a"), default);
        Assert.Equal(Start.AddSeconds(1), (await _store.GetStateAsync(id, default))!.LastModified);

        Time.Advance(TimeSpan.FromSeconds(1));
        await _store.RequestCancelAsync(id, default);
        Assert.Equal(Start.AddSeconds(2), (await _store.GetStateAsync(id, default))!.LastModified);

        Time.Advance(TimeSpan.FromSeconds(1));
        await _store.MarkReaderAsync(id, default);
        Assert.Equal(Start.AddSeconds(3), (await _store.GetStateAsync(id, default))!.LastModified);
    }

    [Fact]
    public async Task Bytes_already_read_stay_unchanged_while_the_log_grows()
    {
        var id = NewStreamId();
        await _store.CreateAsync(id, null, default);
        var first = Enumerable.Repeat((byte)'a', 1000).ToArray();
        await _store.AppendAsync(id, 0, first, default);
        var read = await _store.ReadAsync(id, 0, default);

        await _store.AppendAsync(id, first.Length, Enumerable.Repeat((byte)'b', 5000).ToArray(), default);

        Assert.Equal(first, read!.Bytes.ToArray());
    }

    [Fact]
    public async Task After_dispose_the_timer_no_longer_sweeps()
    {
        var store = new InMemoryStreamLogStore(Time, Retention);
        var id = NewStreamId();
        await store.CreateAsync(id, null, default);

        store.Dispose();
        Time.Advance(Retention + InMemoryStreamLogStore.SweepInterval);

        Assert.NotNull(await store.GetStateAsync(id, default));
    }
}
