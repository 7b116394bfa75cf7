using System.Text;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ChatFunctions.Resumption;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Resumption;

/// <summary>The contract against real Azurite, plus what only a remote store can do: fail.</summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Storage")]
public sealed class BlobStreamLogStoreTests(AzuriteServer azurite) : StreamLogStoreContract
{
    private BlobStreamLogStore? _store;

    protected override IStreamLogStore Store => _store ??= new BlobStreamLogStore(
        new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), Time);

    [Fact]
    public async Task Each_stream_is_one_append_blob_named_by_its_id_holding_exactly_the_frames()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, "owner-hash", default);
        var frames = Frame(id, 1, "a");
        await Store.AppendAsync(id, 0, frames, default);

        var blob = new BlobServiceClient(azurite.ConnectionString()).GetBlobContainerClient("chat-streams").GetBlobClient(id);
        var properties = (await blob.GetPropertiesAsync()).Value;
        var content = (await blob.DownloadContentAsync()).Value.Content.ToArray();

        Assert.Equal(BlobType.Append, properties.BlobType);
        Assert.Equal(frames, content);
        Assert.DoesNotContain(properties.Metadata.Values, v => v.Contains("owner-hash", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_append_larger_than_one_block_is_split_and_stays_whole()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, null, default);
        var big = new byte[(5 * 1024 * 1024) + 17];
        new Random(42).NextBytes(big);

        await Store.AppendAsync(id, 0, big, default);
        await Store.AppendAsync(id, 0, big, default);

        var read = await Store.ReadAsync(id, 1024, default);
        Assert.Equal(big.Length, read!.State.Length);
        Assert.True(read.Bytes.Span.SequenceEqual(big.AsSpan(1024)));
    }

    [Fact]
    public async Task When_storage_goes_away_mid_stream_every_call_fails_promptly_as_unavailable_without_sdk_text()
    {
        await using var proxy = new TcpForwarder(azurite.BlobPort);
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(proxy.Port), BlobStreamLogStore.CreateClientOptions()), Time);
        var id = NewStreamId();
        await store.CreateAsync(id, "owner", default);
        var frame = Frame(id, 1, "before");
        await store.AppendAsync(id, 0, frame, default);

        proxy.Stop();

        // WaitAsync only guards against a hang (a TimeoutException would fail the test); the store's own bound is ~10 s.
        var bound = TimeSpan.FromSeconds(30);
        var failures = new List<StreamLogUnavailableException>
        {
            await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.AppendAsync(id, frame.Length, Frame(id, 2, "after"), default).WaitAsync(bound)),
            await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.ReadAsync(id, 0, default).WaitAsync(bound)),
            await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.GetStateAsync(id, default).WaitAsync(bound)),
            await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.RequestCancelAsync(id, default).WaitAsync(bound)),
            await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.MarkReaderAsync(id, default).WaitAsync(bound)),
            await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.CreateAsync(NewStreamId(), null, default).WaitAsync(bound)),
        };

        foreach (var failure in failures)
        {
            Assert.Null(failure.InnerException);
            Assert.DoesNotContain("127.0.0.1", failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(id, failure.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task When_storage_stops_answering_a_call_fails_at_its_deadline_instead_of_hanging()
    {
        await using var proxy = new TcpForwarder(azurite.BlobPort);
        var store = new BlobStreamLogStore(
            new BlobServiceClient(azurite.ConnectionString(proxy.Port), BlobStreamLogStore.CreateClientOptions()), Time, operationTimeout: TimeSpan.FromSeconds(1.5));
        var id = NewStreamId();
        await store.CreateAsync(id, null, default);

        proxy.StopAnswering();

        var failure = await Assert.ThrowsAsync<StreamLogUnavailableException>(() => store.AppendAsync(id, 0, Frame(id, 1, "x"), default).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("did not answer", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_cancelling_gets_cancellation_not_unavailable()
    {
        await using var proxy = new TcpForwarder(azurite.BlobPort);
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(proxy.Port), BlobStreamLogStore.CreateClientOptions()), Time);
        var id = NewStreamId();
        await store.CreateAsync(id, null, default);
        proxy.StopAnswering();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ReadAsync(id, 0, cancel.Token).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_log_created_by_the_resume_of_another_instance_is_read_by_a_second_store_on_the_same_account()
    {
        var id = NewStreamId();
        await Store.CreateAsync(id, "owner", default);
        await Store.AppendAsync(id, 0, Encoding.UTF8.GetBytes("data: {\"chunk\":\"x\"}\n\n"), default);
        var other = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), TimeProvider.System);

        Assert.True(other.IsShared);
        Assert.True(await other.RequestCancelAsync(id, default));
        var read = await Store.ReadAsync(id, 0, default);
        Assert.True(read!.State.CancelRequested);
        Assert.Equal("data: {\"chunk\":\"x\"}\n\n", Encoding.UTF8.GetString(read.Bytes.Span));
    }
}
