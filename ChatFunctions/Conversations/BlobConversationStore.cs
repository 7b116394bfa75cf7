using System.Globalization;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ChatFunctions.Storage;

namespace ChatFunctions.Conversations;

/// <summary>
/// Conversations as block blobs in the <c>conversations</c> container, one per conversation, named
/// <c>&lt;owner&gt;/&lt;id&gt;.json</c>: one Put Blob per save whatever its size (a table entity stops at 1 MiB and a
/// property at 64 KiB, which a chat with long replies passes), one List Blobs per 5,000 conversations for the list
/// (title, updatedAt and deleted ride along as metadata), and the blob's ETag as the conversation's version for
/// If-Match / If-None-Match. See docs/conversations.md for the measured cost.
/// </summary>
/// <remarks>
/// Bicep creates the container and grants the app's identity access to it. Only a development account (a connection
/// string, as for Azurite) creates a missing container, so the app needs no right to create containers in Azure.
/// </remarks>
public sealed class BlobConversationStore : IConversationStore
{
    public const string ContainerName = "conversations";

    // Metadata names must be C# identifiers; values must be ASCII, so the title goes base64.
    private const string TitleKey = "title";
    private const string UpdatedKey = "updatedat";
    private const string DeletedKey = "deleted";

    private readonly AppBlobContainer _container;

    /// <param name="createContainer">True for development storage only (see remarks).</param>
    public BlobConversationStore(BlobServiceClient service, bool createContainer)
    {
        ArgumentNullException.ThrowIfNull(service);
        _container = new AppBlobContainer(service.GetBlobContainerClient(ContainerName), createContainer);
    }

    /// <summary>A request path's budget: 5 s per attempt, two quick retries.</summary>
    public static BlobClientOptions CreateClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(1);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(5);
        return options;
    }

    public Task<ConversationPage> ListAsync(string owner, string? continuation, int pageSize, CancellationToken cancellationToken) =>
        RunAsync("list", async ct =>
        {
            var prefix = owner + "/";
            await foreach (var page in _container.Client.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, prefix, ct)
                .AsPages(continuation, pageSize).WithCancellation(ct).ConfigureAwait(false))
            {
                var items = page.Values.Select(blob => Summarize(blob, prefix)).OfType<ConversationSummary>().ToList();
                return new ConversationPage(items, string.IsNullOrEmpty(page.ContinuationToken) ? null : page.ContinuationToken);
            }

            return new ConversationPage([], null);
        }, cancellationToken, whenNoContainer: new ConversationPage([], null));

    public Task<int> CountLiveAsync(string owner, CancellationToken cancellationToken) =>
        RunAsync("count", async ct =>
        {
            var count = 0;
            await foreach (var blob in _container.Client.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, owner + "/", ct).ConfigureAwait(false))
            {
                count += IsDeleted(blob.Metadata) ? 0 : 1;
            }

            return count;
        }, cancellationToken, whenNoContainer: 0);

    public Task<StoredConversation?> GetAsync(string owner, string id, CancellationToken cancellationToken) =>
        RunAsync("get", async ct =>
        {
            try
            {
                var result = await _container.Client.GetBlobClient(NameOf(owner, id)).DownloadContentAsync(ct).ConfigureAwait(false);
                var metadata = result.Value.Details.Metadata;
                var document = new ConversationDocument(id, BlobMetadataText.Decode(metadata, TitleKey), ReadUpdated(metadata), IsDeleted(metadata), result.Value.Content.ToMemory());
                return new StoredConversation(document, result.Value.Details.ETag.ToString("H"));
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null;
            }
        }, cancellationToken);

    public Task<string?> PutAsync(string owner, ConversationDocument document, WriteCondition condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        return RunAsync("put", async ct =>
        {
            var metadata = new Dictionary<string, string>
            {
                [UpdatedKey] = document.UpdatedAt.ToString(CultureInfo.InvariantCulture),
            };
            if (document.Title is { Length: > 0 } title)
            {
                metadata[TitleKey] = BlobMetadataText.Encode(title);
            }

            if (document.Deleted)
            {
                metadata[DeletedKey] = "true";
            }

            var options = new BlobUploadOptions
            {
                Metadata = metadata,
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json; charset=utf-8" },
                Conditions = condition.MustNotExist ? new BlobRequestConditions { IfNoneMatch = ETag.All }
                    : condition.IfMatch is { } etag ? new BlobRequestConditions { IfMatch = new ETag(etag) }
                    : null,
            };
            var blob = _container.Client.GetBlobClient(NameOf(owner, document.Id));
            try
            {
                var uploaded = await _container.WriteAsync(() => blob.UploadAsync(BinaryData.FromBytes(document.Json), options, ct), ct).ConfigureAwait(false);
                return uploaded.Value.ETag.ToString("H");
            }
            catch (RequestFailedException e) when (e.Status is 412 or 409 && e.ErrorCode is "ConditionNotMet" or "BlobAlreadyExists")
            {
                return null;
            }
            catch (RequestFailedException e) when (condition.IfMatch is not null && e.Status == 404)
            {
                // If-Match on a conversation that is not there: the version the writer read is gone.
                return null;
            }
        }, cancellationToken);
    }

    private static string NameOf(string owner, string id) => $"{owner}/{id}.json";

    private static ConversationSummary? Summarize(BlobItem blob, string prefix)
    {
        const string Suffix = ".json";
        if (!blob.Name.StartsWith(prefix, StringComparison.Ordinal) || !blob.Name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return null;
        }

        var id = blob.Name[prefix.Length..^Suffix.Length];
        return ConversationId.IsValid(id)
            ? new ConversationSummary(id, BlobMetadataText.Decode(blob.Metadata, TitleKey), ReadUpdated(blob.Metadata), blob.Properties.ETag?.ToString("H") ?? "", IsDeleted(blob.Metadata))
            : null;
    }

    private static bool IsDeleted(IDictionary<string, string>? metadata) =>
        metadata is not null && metadata.TryGetValue(DeletedKey, out var deleted) && deleted == "true";

    private static long ReadUpdated(IDictionary<string, string>? metadata) =>
        metadata is not null && metadata.TryGetValue(UpdatedKey, out var value) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var updated) ? updated : 0;

    /// <summary>Turns every storage or transport failure into <see cref="ConversationStoreUnavailableException"/>,
    /// carrying only the operation, status and error code (the SDK's message can quote URLs and bodies).</summary>
    private async Task<T> RunAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken, T? whenNoContainer = default)
    {
        try
        {
            return await action(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (whenNoContainer is not null && _container.IsNotCreatedYet(e))
        {
            // Development storage before the first save: nothing stored yet.
            return whenNoContainer;
        }
        catch (RequestFailedException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConversationStoreUnavailableException(operation, e.Status, e.ErrorCode, e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && StorageFailures.IsTransport(e))
        {
            throw new ConversationStoreUnavailableException(operation, 0, e.GetType().Name, e);
        }
    }
}
