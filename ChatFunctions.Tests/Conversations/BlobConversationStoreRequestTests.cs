using System.Text;
using Azure.Core;
using Azure.Storage.Blobs;
using ChatFunctions.Conversations;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Conversations;

/// <summary>
/// Storage requests per conversation operation, counted against Azurite by a policy in the blob client's pipeline
/// (per attempt, so a retry would count: billing counts attempts). These are the numbers docs/conversations.md gives
/// for cost; the API's operations call the store as ConversationService does: a create counts the owner's live
/// conversations first, a save is one conditional write, a conflict is a refused write plus a read and a write, a
/// delete writes the tombstone.
/// </summary>
[Collection(UsesAzurite.Name)]
public sealed class BlobConversationStoreRequestTests(AzuriteServer azurite)
{
    private static ConversationDocument Document(string id, string text) =>
        new(id, "A chat", 1_765_000_000_000, false, Encoding.UTF8.GetBytes($$"""{"id":"{{id}}","updatedAt":1765000000000,"messages":[{"id":"m1","content":"{{text}}"}]}"""));

    [Fact]
    public async Task Create_save_list_read_and_conflict_cost_the_documented_storage_requests()
    {
        var counter = new StorageRequestRecorder();
        var options = BlobConversationStore.CreateClientOptions();
        options.AddPolicy(counter, HttpPipelinePosition.PerRetry);
        var store = new BlobConversationStore(new BlobServiceClient(azurite.ConnectionString(), options), createContainer: true);
        var owner = Guid.NewGuid().ToString("N");
        var id = Guid.NewGuid().ToString();
        // The first write of a fresh development account creates the container: not part of any later operation.
        await store.PutAsync(Guid.NewGuid().ToString("N"), Document(Guid.NewGuid().ToString(), "warm"), WriteCondition.Absent, CancellationToken.None);
        counter.Take();

        // Create: the count limit (one List Blobs per 5,000 of the owner's blobs), then one Put Blob with If-None-Match: *.
        await store.CountLiveAsync(owner, CancellationToken.None);
        var first = await store.PutAsync(owner, Document(id, "one"), WriteCondition.Absent, CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal(["GET", "PUT"], counter.Take());

        // Save after a reply: one Put Blob with If-Match.
        var second = await store.PutAsync(owner, Document(id, "two"), WriteCondition.Matching(first!), CancellationToken.None);
        Assert.NotNull(second);
        Assert.Equal(["PUT"], counter.Take());

        // List (one page of up to 100, titles from metadata) and read one changed conversation.
        var page = await store.ListAsync(owner, null, 100, CancellationToken.None);
        Assert.Single(page.Items);
        Assert.NotNull(await store.GetAsync(owner, id, CancellationToken.None));
        Assert.Equal(["GET", "GET"], counter.Take());

        // Conflict: the stale write is refused (412, not retried), then the page reads the newer version and writes the merge.
        Assert.Null(await store.PutAsync(owner, Document(id, "stale"), WriteCondition.Matching(first!), CancellationToken.None));
        var current = await store.GetAsync(owner, id, CancellationToken.None);
        Assert.NotNull(await store.PutAsync(owner, Document(id, "merged"), WriteCondition.Matching(current!.ETag), CancellationToken.None));
        Assert.Equal(["PUT", "GET", "PUT"], counter.Take());

        // Delete: the tombstone overwrites the conversation in one Put Blob.
        var tombstone = new ConversationDocument(id, null, 1_765_000_000_001, true, Encoding.UTF8.GetBytes($$"""{"id":"{{id}}","deleted":true}"""));
        Assert.NotNull(await store.PutAsync(owner, tombstone, WriteCondition.None, CancellationToken.None));
        Assert.Equal(["PUT"], counter.Take());
    }
}
