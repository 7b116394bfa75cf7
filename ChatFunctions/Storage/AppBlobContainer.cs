using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ChatFunctions.Storage;

/// <summary>
/// One of the app's own blob containers (conversations, shares). Bicep creates it in Azure, where the app's identity
/// has no right to create containers; only a development account (a connection string, as for Azurite) creates it,
/// on the first write that finds it missing. Until then that account's reads find nothing.
/// </summary>
public sealed class AppBlobContainer(BlobContainerClient client, bool createIfMissing)
{
    private volatile bool _created;

    public BlobContainerClient Client { get; } = client ?? throw new ArgumentNullException(nameof(client));

    /// <summary>Runs <paramref name="write"/>, and once more after creating the container when a development account lacks it.</summary>
    public async Task<T> WriteAsync<T>(Func<Task<T>> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            return await write().ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound && createIfMissing && !_created)
        {
            await Client.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            _created = true;
            return await write().ConfigureAwait(false);
        }
    }

    /// <summary>True when a read failed only because a development account has not created the container yet.</summary>
    public bool IsNotCreatedYet(RequestFailedException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return createIfMissing && failure.ErrorCode == BlobErrorCode.ContainerNotFound;
    }
}
