using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ChatFunctions.Resumption;
using Microsoft.Extensions.Time.Testing;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// What every <see cref="IStreamLogStore"/> must do, run against each implementation (a subclass supplies the store):
/// the relay and the resume endpoint rely on these semantics whichever store the host chose.
/// </summary>
public abstract class StreamLogStoreContract
{
    protected static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    protected FakeTimeProvider Time { get; } = new(Start);

    protected abstract IStreamLogStore Store { get; }

    public static string NewStreamId() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    protected static byte[] Frame(string streamId, int seq, string text) =>
        Encoding.UTF8.GetBytes($"id: {streamId}:{seq}\ndata: {{\"chunk\":\"{text}\"}}\n\n");

    [Fact]
    public async Task Create_makes_an_empty_log_with_its_owner_and_creation_time()
    {
        var id = NewStreamId();

        await Store.CreateAsync(id, "caller-hash+/=", default);

        var state = await Store.GetStateAsync(id, default);
        Assert.NotNull(state);
        Assert.Equal(0, state.Length);
        Assert.Equal(Start, state.CreatedAt);
        Assert.Equal("caller-hash+/=", state.OwnerKey);
        Assert.False(state.CancelRequested);
        Assert.Null(state.ReaderSeenAt);
        var read = await Store.ReadAsync(id, 0, default);
        Assert.NotNull(read);
        Assert.True(read.Bytes.IsEmpty);
        Assert.Equal(0, read.State.Length);
    }

    [Fact]
    public async Task An_anonymous_log_has_no_owner_and_any_text_owner_round_trips()
    {
        var anonymous = NewStreamId();
        var unusual = NewStreamId();
        const string owner = "ünïcödé key\r\nx-ms-meta-evil: 1";

        await Store.CreateAsync(anonymous, null, default);
        await Store.CreateAsync(unusual, owner, default);

        Assert.Null((await Store.GetStateAsync(anonymous, default))!.OwnerKey);
        Assert.Equal(owner, (await Store.GetStateAsync(unusual, default))!.OwnerKey);
    }

    [Fact]
    public async Task Creating_a_log_whose_id_exists_fails_and_keeps_the_first()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, "first", default);
        await Store.AppendAsync(id, 0, Frame(id, 1, "a"), default);

        await Assert.ThrowsAsync<StreamLogUnavailableException>(() => Store.CreateAsync(id, "second", default));

        var state = await Store.GetStateAsync(id, default);
        Assert.Equal("first", state!.OwnerKey);
        Assert.Equal(Frame(id, 1, "a").Length, state.Length);
    }

    [Fact]
    public async Task A_tail_read_returns_what_was_appended_since_and_nothing_while_the_log_is_unchanged()
    {
        var id = NewStreamId();
        var version = await Store.CreateAsync(id, null, default);
        var first = Frame(id, 1, "a");
        var second = Frame(id, 2, "b");
        await Store.AppendAsync(id, 0, first, default);

        var tail = await Store.ReadTailAsync(id, 0, version, default);
        Assert.Equal(first, tail!.Bytes.ToArray());

        var unchanged = await Store.ReadTailAsync(id, first.Length, tail.Version, default);
        Assert.True(unchanged!.Bytes.IsEmpty);
        Assert.Equal(tail.Version, unchanged.Version);

        await Store.AppendAsync(id, first.Length, second, default);
        var next = await Store.ReadTailAsync(id, first.Length, tail.Version, default);
        Assert.Equal(second, next!.Bytes.ToArray());
        Assert.NotEqual(tail.Version, next.Version);
        Assert.Equal((await Store.GetStateAsync(id, default))!.Version, next.Version);
    }

    [Fact]
    public async Task A_tail_read_after_a_state_change_alone_returns_no_bytes_and_the_new_version_and_null_for_no_log()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, null, default);
        var frame = Frame(id, 1, "a");
        await Store.AppendAsync(id, 0, frame, default);
        var before = (await Store.GetStateAsync(id, default))!.Version;

        await Store.MarkReaderAsync(id, default);
        var tail = await Store.ReadTailAsync(id, frame.Length, before, default);

        Assert.True(tail!.Bytes.IsEmpty);
        Assert.Equal((await Store.GetStateAsync(id, default))!.Version, tail.Version);
        Assert.NotEqual(before, tail.Version);
        Assert.Null(await Store.ReadTailAsync(NewStreamId(), 0, null, default));
    }

    [Fact]
    public async Task Appended_frames_read_back_byte_for_byte_from_any_offset()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, null, default);
        var first = Frame(id, 1, "Hello");
        var second = Frame(id, 2, " wörld 🌍\\r\\n");
        var third = Frame(id, 3, "!");
        byte[] all = [.. first, .. second, .. third];

        await Store.AppendAsync(id, 0, first, default);
        await Store.AppendAsync(id, first.Length, second, default);
        await Store.AppendAsync(id, first.Length + second.Length, third, default);

        foreach (var from in new[] { 0, 1, first.Length, first.Length + second.Length, all.Length - 1 })
        {
            var read = await Store.ReadAsync(id, from, default);
            Assert.NotNull(read);
            Assert.Equal(all[from..], read.Bytes.ToArray());
            Assert.Equal(all.Length, read.State.Length);
        }
    }

    [Fact]
    public async Task Reading_at_or_past_the_end_returns_no_bytes_and_the_current_length()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, "owner", default);
        var frame = Frame(id, 1, "x");
        await Store.AppendAsync(id, 0, frame, default);

        var atEnd = await Store.ReadAsync(id, frame.Length, default);
        var pastEnd = await Store.ReadAsync(id, frame.Length + 100, default);

        Assert.NotNull(atEnd);
        Assert.True(atEnd.Bytes.IsEmpty);
        Assert.Equal(frame.Length, atEnd.State.Length);
        Assert.Equal("owner", atEnd.State.OwnerKey);
        Assert.NotNull(pastEnd);
        Assert.True(pastEnd.Bytes.IsEmpty);
        Assert.Equal(frame.Length, pastEnd.State.Length);
    }

    [Fact]
    public async Task A_retried_append_is_not_written_twice()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, null, default);
        var first = Frame(id, 1, "once");
        var second = Frame(id, 2, "twice?");

        await Store.AppendAsync(id, 0, first, default);
        await Store.AppendAsync(id, 0, first, default);
        await Store.AppendAsync(id, first.Length, second, default);
        await Store.AppendAsync(id, first.Length, second, default);
        await Store.AppendAsync(id, 0, first, default);

        var read = await Store.ReadAsync(id, 0, default);
        Assert.Equal([.. first, .. second], read!.Bytes.ToArray());
    }

    [Fact]
    public async Task An_append_that_would_leave_a_gap_or_overlap_differently_fails_and_changes_nothing()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, null, default);
        var first = Frame(id, 1, "a");
        await Store.AppendAsync(id, 0, first, default);

        await Assert.ThrowsAsync<StreamLogUnavailableException>(() => Store.AppendAsync(id, first.Length + 1, Frame(id, 2, "gap"), default));
        await Assert.ThrowsAsync<StreamLogUnavailableException>(() => Store.AppendAsync(id, first.Length - 1, Frame(id, 2, "overlap"), default));

        Assert.Equal(first, (await Store.ReadAsync(id, 0, default))!.Bytes.ToArray());
    }

    [Fact]
    public async Task Unknown_ids_read_as_absent_and_cannot_be_appended_to()
    {
        var id = NewStreamId();

        Assert.Null(await Store.ReadAsync(id, 0, default));
        Assert.Null(await Store.ReadAsync(id, 10, default));
        Assert.Null(await Store.GetStateAsync(id, default));
        Assert.False(await Store.RequestCancelAsync(id, default));
        await Store.MarkReaderAsync(id, default);
        await Assert.ThrowsAsync<StreamLogUnavailableException>(() => Store.AppendAsync(id, 0, Frame(id, 1, "x"), default));
        Assert.Null(await Store.GetStateAsync(id, default));
    }

    [Fact]
    public async Task A_cancel_request_shows_in_the_state_is_idempotent_and_keeps_the_rest()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, "owner", default);
        var frame = Frame(id, 1, "x");
        await Store.AppendAsync(id, 0, frame, default);

        Assert.True(await Store.RequestCancelAsync(id, default));
        Assert.True(await Store.RequestCancelAsync(id, default));

        var read = await Store.ReadAsync(id, 0, default);
        Assert.True(read!.State.CancelRequested);
        Assert.Equal("owner", read.State.OwnerKey);
        Assert.Equal(Start, read.State.CreatedAt);
        Assert.Equal(frame, read.Bytes.ToArray());
        await Store.AppendAsync(id, frame.Length, Frame(id, 2, "done"), default);
        Assert.True((await Store.GetStateAsync(id, default))!.CancelRequested);
    }

    [Fact]
    public async Task A_reader_mark_records_when_it_was_last_made()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, "owner", default);

        Time.Advance(TimeSpan.FromSeconds(5));
        await Store.MarkReaderAsync(id, default);
        Assert.Equal(Start.AddSeconds(5), (await Store.GetStateAsync(id, default))!.ReaderSeenAt);

        Time.Advance(TimeSpan.FromSeconds(7));
        await Store.MarkReaderAsync(id, default);
        var state = await Store.GetStateAsync(id, default);
        Assert.Equal(Start.AddSeconds(12), state!.ReaderSeenAt);
        Assert.Equal("owner", state.OwnerKey);
        Assert.False(state.CancelRequested);
    }

    [Fact]
    public async Task Appends_conditional_on_the_last_version_succeed_until_a_cancel_changes_it_and_then_bring_back_the_state_that_says_so()
    {
        var id = NewStreamId();
        var version = await Store.CreateAsync(id, null, default);
        var first = Frame(id, 1, "a");
        var second = Frame(id, 2, "b");

        var appended = await Store.AppendAsync(id, 0, first, version, default);
        Assert.True(appended.Appended);
        Assert.Null(appended.State);
        Assert.NotEqual(version, appended.Version);

        Assert.True(await Store.RequestCancelAsync(id, default));
        var refused = await Store.AppendAsync(id, first.Length, second, appended.Version, default);

        Assert.False(refused.Appended);
        Assert.NotNull(refused.State);
        Assert.True(refused.State.CancelRequested);
        Assert.Equal(first.Length, refused.State.Length);
        Assert.Equal(refused.State.Version, refused.Version);
        Assert.Equal(first, (await Store.ReadAsync(id, 0, default))!.Bytes.ToArray());

        // With the version it was given back, the producer appends its ending.
        var ending = await Store.AppendAsync(id, first.Length, second, refused.Version, default);
        Assert.True(ending.Appended);
        var all = (await Store.ReadAsync(id, 0, default))!.Bytes.ToArray();
        Assert.Equal([.. first, .. second], all);
    }

    [Fact]
    public async Task A_reader_mark_breaks_the_next_conditional_append_too_and_the_state_names_the_reader()
    {
        var id = NewStreamId();
        var version = await Store.CreateAsync(id, null, default);
        Time.Advance(TimeSpan.FromSeconds(3));
        await Store.MarkReaderAsync(id, default);

        var refused = await Store.AppendAsync(id, 0, Frame(id, 1, "a"), version, default);

        Assert.False(refused.Appended);
        Assert.Equal(Start.AddSeconds(3), refused.State!.ReaderSeenAt);
        Assert.False(refused.State.CancelRequested);
        Assert.Equal(0, (await Store.GetStateAsync(id, default))!.Length);
    }

    [Fact]
    public async Task A_cancel_before_the_first_append_is_not_missed_the_version_comes_from_create()
    {
        var id = NewStreamId();
        var version = await Store.CreateAsync(id, null, default);
        await Store.RequestCancelAsync(id, default);

        var refused = await Store.AppendAsync(id, 0, Frame(id, 1, "meta"), version, default);

        Assert.False(refused.Appended);
        Assert.True(refused.State!.CancelRequested);
        Assert.Equal(refused.Version, (await Store.GetStateAsync(id, default))!.Version);
    }

    [Fact]
    public async Task A_retried_conditional_append_is_not_written_twice_and_reports_the_state_it_found()
    {
        var id = NewStreamId();
        var version = await Store.CreateAsync(id, null, default);
        var first = Frame(id, 1, "once");

        await Store.AppendAsync(id, 0, first, version, default);
        var retried = await Store.AppendAsync(id, 0, first, version, default);

        Assert.True(retried.Appended);
        Assert.Equal(first.Length, retried.State!.Length);
        Assert.Equal(first, (await Store.ReadAsync(id, 0, default))!.Bytes.ToArray());
    }

    [Fact]
    public async Task Concurrent_cancel_reader_marks_and_appends_lose_none_of_each_other()
    {
        for (var round = 0; round < 3; round++)
        {
            var id = NewStreamId();
            var createdAt = Time.GetUtcNow();
            await Store.CreateAsync(id, "owner", default);
            var frames = Enumerable.Range(1, 6).Select(seq => Frame(id, seq, $"token {seq}")).ToArray();

            async Task ProduceAsync()
            {
                long offset = 0;
                foreach (var frame in frames)
                {
                    await Store.AppendAsync(id, offset, frame, default);
                    offset += frame.Length;
                }
            }

            Time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAll(
                ProduceAsync(),
                Task.Run(() => Store.RequestCancelAsync(id, default)),
                Task.Run(() => Store.MarkReaderAsync(id, default)),
                Task.Run(() => Store.MarkReaderAsync(id, default)),
                Task.Run(() => Store.MarkReaderAsync(id, default)));

            var read = await Store.ReadAsync(id, 0, default);
            Assert.NotNull(read);
            Assert.True(read.State.CancelRequested, $"round {round}: the cancel request was lost");
            Assert.Equal(Start.AddSeconds(round + 1), read.State.ReaderSeenAt);
            Assert.Equal("owner", read.State.OwnerKey);
            Assert.Equal(createdAt, read.State.CreatedAt);
            Assert.Equal(frames.SelectMany(f => f).ToArray(), read.Bytes.ToArray());
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA/A")]
    [InlineData("../../../../../../../..")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA.A")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA A")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAé")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA+A")]
    public async Task Anything_but_a_22_character_base64url_id_is_refused_before_any_storage_call(string streamId)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateAsync(streamId, null, default));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendAsync(streamId, 0, new byte[] { 1 }, default));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.ReadAsync(streamId, 0, default));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.GetStateAsync(streamId, default));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.RequestCancelAsync(streamId, default));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.MarkReaderAsync(streamId, default));
    }

    [Fact]
    public async Task Negative_offsets_are_refused()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, null, default);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.AppendAsync(id, -1, new byte[] { 1 }, default));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReadAsync(id, -1, default));
    }
}
