using System.Text;
using Azure.Core;
using Azure.Storage.Blobs;
using ChatFunctions.Conversations;
using ChatFunctions.Shares;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Shares;

/// <summary>
/// Storage requests per share operation, counted against Azurite by a policy in the blob client's pipeline (per
/// attempt, as billing counts): the numbers docs/conversations.md gives. The operations call the store as ShareService
/// does: a create lists the owner's shares for the count limit first.
/// </summary>
[Collection(UsesAzurite.Name)]
public sealed class BlobShareStoreRequestTests(AzuriteServer azurite)
{
    private static ShareSummary Share(string title = "Trip ✈") => new(ShareId.New(), Guid.NewGuid().ToString(), title, 1_765_000_000_000);

    private static byte[] Snapshot(string id) => Encoding.UTF8.GetBytes($$"""{"id":"{{id}}","title":"t","createdAt":1,"messages":[]}""");

    [Fact]
    public async Task Create_read_list_and_revoke_cost_the_documented_storage_requests_and_keep_owners_apart()
    {
        var counter = new StorageRequestRecorder();
        var options = BlobConversationStore.CreateClientOptions();
        options.AddPolicy(counter, HttpPipelinePosition.PerRetry);
        var store = new BlobShareStore(new BlobServiceClient(azurite.ConnectionString(), options), createContainer: true);
        var owner = Guid.NewGuid().ToString("N");
        var other = Guid.NewGuid().ToString("N");
        // The first write of a fresh development account creates the container: not part of any later operation.
        var warm = Share();
        await store.CreateAsync(Guid.NewGuid().ToString("N"), warm, Snapshot(warm.Id), CancellationToken.None);
        counter.Take();

        // Create: the count limit (one List Blobs), then the index blob and the snapshot, each one Put Blob with If-None-Match: *.
        var share = Share();
        Assert.Empty(await store.ListAsync(owner, CancellationToken.None));
        Assert.True(await store.CreateAsync(owner, share, Snapshot(share.Id), CancellationToken.None));
        Assert.Equal(["GET", "PUT", "PUT"], counter.Take());

        // The same id again is refused, not overwritten.
        Assert.False(await store.CreateAsync(other, share with { ConversationId = "other" }, Snapshot("x"), CancellationToken.None));
        counter.Take();

        // Read: one Get Blob. List: one List Blobs, the title and conversation id from metadata.
        var read = await store.ReadAsync(share.Id, CancellationToken.None);
        var listed = Assert.Single(await store.ListAsync(owner, CancellationToken.None));
        Assert.Equal(["GET", "GET"], counter.Take());
        Assert.Equal(Snapshot(share.Id), read!.Json.ToArray());
        Assert.Equal(share, listed);
        Assert.Empty(await store.ListAsync(other, CancellationToken.None));

        // Another owner's revoke finds no index blob of theirs: one request, nothing deleted.
        counter.Take();
        Assert.False(await store.RevokeAsync(other, share.Id, CancellationToken.None));
        Assert.Equal(["HEAD"], counter.Take());
        Assert.NotNull(await store.ReadAsync(share.Id, CancellationToken.None));
        counter.Take();

        // Revoke: the owner's index blob (Get Blob Properties), then the snapshot, then the index blob.
        Assert.True(await store.RevokeAsync(owner, share.Id, CancellationToken.None));
        Assert.Equal(["HEAD", "DELETE", "DELETE"], counter.Take());
        Assert.Null(await store.ReadAsync(share.Id, CancellationToken.None));
        Assert.Empty(await store.ListAsync(owner, CancellationToken.None));
    }

    [Fact]
    public async Task The_in_memory_store_keeps_the_same_ownership_rules()
    {
        var store = new InMemoryShareStore();
        var share = Share();

        Assert.True(await store.CreateAsync("alice", share, Snapshot(share.Id), CancellationToken.None));
        Assert.False(await store.CreateAsync("bob", share, Snapshot(share.Id), CancellationToken.None));
        Assert.False(await store.RevokeAsync("bob", share.Id, CancellationToken.None));
        Assert.Empty(await store.ListAsync("bob", CancellationToken.None));
        Assert.Equal(share, Assert.Single(await store.ListAsync("alice", CancellationToken.None)));
        Assert.True(await store.RevokeAsync("alice", share.Id, CancellationToken.None));
        Assert.Null(await store.ReadAsync(share.Id, CancellationToken.None));
    }
}
