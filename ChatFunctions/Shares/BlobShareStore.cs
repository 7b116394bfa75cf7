using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ChatFunctions.Storage;

namespace ChatFunctions.Shares;

/// <summary>
/// Shares as block blobs in the <c>shares</c> container: the public snapshot at <c>links/&lt;id&gt;.json</c> (one Get
/// Blob per read, no owner in it) and an empty index blob per share at <c>owners/&lt;owner&gt;/&lt;id&gt;</c> whose
/// metadata holds the conversation id, title and creation time (one List Blobs lists an owner's shares). Revoke
/// checks the index blob of the caller's own prefix, so nobody can revoke, or learn about, another owner's share.
/// </summary>
/// <remarks>
/// Bicep creates the container; the app's identity reaches it through the account-wide role it already has. Only a
/// development account (a connection string, as for Azurite) creates a missing container.
/// </remarks>
public sealed class BlobShareStore : IShareStore
{
    public const string ContainerName = "shares";

    private const string ConversationKey = "conversationid";
    private const string TitleKey = "title";
    private const string CreatedKey = "createdat";

    private readonly AppBlobContainer _container;

    /// <param name="createContainer">True for development storage only (see remarks).</param>
    public BlobShareStore(BlobServiceClient service, bool createContainer)
    {
        ArgumentNullException.ThrowIfNull(service);
        _container = new AppBlobContainer(service.GetBlobContainerClient(ContainerName), createContainer);
    }

    public static string SnapshotName(string shareId) => $"links/{shareId}.json";

    public static string IndexName(string owner, string shareId) => $"owners/{owner}/{shareId}";

    public Task<bool> CreateAsync(string owner, ShareSummary share, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(share);
        return RunAsync("create", async ct =>
        {
            var metadata = new Dictionary<string, string>
            {
                [ConversationKey] = share.ConversationId,
                [CreatedKey] = share.CreatedAt.ToString(CultureInfo.InvariantCulture),
            };
            if (share.Title is { Length: > 0 } title)
            {
                metadata[TitleKey] = BlobMetadataText.Encode(title);
            }

            var index = _container.Client.GetBlobClient(IndexName(owner, share.Id));
            if (!await UploadNewAsync(index, ReadOnlyMemory<byte>.Empty, metadata, ct).ConfigureAwait(false))
            {
                return false;
            }

            if (await UploadNewAsync(_container.Client.GetBlobClient(SnapshotName(share.Id)), snapshot, null, ct).ConfigureAwait(false))
            {
                return true;
            }

            // The id is someone else's share: this owner's index entry must not stay, or it would let them revoke it.
            await index.DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false);
            return false;
        }, cancellationToken);
    }

    public Task<StoredSnapshot?> ReadAsync(string shareId, CancellationToken cancellationToken) =>
        RunAsync("read", async ct =>
        {
            try
            {
                var result = await _container.Client.GetBlobClient(SnapshotName(shareId)).DownloadContentAsync(ct).ConfigureAwait(false);
                return new StoredSnapshot(result.Value.Content.ToMemory(), result.Value.Details.ETag.ToString("H"));
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null;
            }
        }, cancellationToken, whenNoContainer: null);

    public Task<IReadOnlyList<ShareSummary>> ListAsync(string owner, CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<ShareSummary>>("list", async ct =>
        {
            var prefix = $"owners/{owner}/";
            var shares = new List<ShareSummary>();
            await foreach (var blob in _container.Client.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, prefix, ct).ConfigureAwait(false))
            {
                var id = blob.Name[prefix.Length..];
                if (ShareId.IsValid(id) && blob.Metadata.TryGetValue(ConversationKey, out var conversationId))
                {
                    shares.Add(new ShareSummary(id, conversationId, BlobMetadataText.Decode(blob.Metadata, TitleKey), ReadCreated(blob.Metadata)));
                }
            }

            return [.. shares.OrderBy(s => s.CreatedAt)];
        }, cancellationToken, whenNoContainer: []);

    public Task<bool> RevokeAsync(string owner, string shareId, CancellationToken cancellationToken) =>
        RunAsync("revoke", async ct =>
        {
            var index = _container.Client.GetBlobClient(IndexName(owner, shareId));
            if (!(await index.ExistsAsync(ct).ConfigureAwait(false)).Value)
            {
                return false;
            }

            // The snapshot goes first: if the second delete fails, the share is still listed and can be revoked again.
            await _container.Client.GetBlobClient(SnapshotName(shareId)).DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false);
            await index.DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false);
            return true;
        }, cancellationToken, whenNoContainer: false);

    /// <summary>Put Blob with If-None-Match: *; false when the name is taken.</summary>
    private async Task<bool> UploadNewAsync(BlobClient blob, ReadOnlyMemory<byte> content, IDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        var options = new BlobUploadOptions
        {
            Metadata = metadata,
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json; charset=utf-8" },
            Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
        };
        try
        {
            await _container.WriteAsync(() => blob.UploadAsync(BinaryData.FromBytes(content), options, cancellationToken), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 && e.ErrorCode is "ConditionNotMet" or "BlobAlreadyExists")
        {
            return false;
        }
    }

    private static long ReadCreated(IDictionary<string, string> metadata) =>
        metadata.TryGetValue(CreatedKey, out var value) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var created) ? created : 0;

    /// <summary>Turns every storage or transport failure into <see cref="ShareStoreUnavailableException"/>, carrying
    /// only the operation, status and error code (the SDK's message quotes URLs, and a URL here holds a share id).</summary>
    private async Task<T> RunAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken, T? whenNoContainer = default)
    {
        try
        {
            return await action(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (operation != "create" && _container.IsNotCreatedYet(e))
        {
            // Development storage before the first share: nothing stored yet.
            return whenNoContainer!;
        }
        catch (RequestFailedException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ShareStoreUnavailableException(operation, e.Status, e.ErrorCode, e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && StorageFailures.IsTransport(e))
        {
            throw new ShareStoreUnavailableException(operation, 0, e.GetType().Name, e);
        }
    }
}
