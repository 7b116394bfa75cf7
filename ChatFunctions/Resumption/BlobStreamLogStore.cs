using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ChatFunctions.Storage;

namespace ChatFunctions.Resumption;

/// <summary>
/// Stream logs as append blobs in the <c>chat-streams</c> container of AzureWebJobsStorage, one blob per stream
/// named by its id: one append per flush, one ranged read replays exact bytes from any offset, and the state
/// (owner, created, cancel, reader) rides in the blob's metadata, so one download returns bytes and state together.
/// The producer's appends carry <c>If-Match</c> with the ETag it last saw besides the append position: a metadata write
/// (a stop, a reader's mark) changes the ETag, so the next append fails and the producer reads the new state then.
/// </summary>
/// <remarks>
/// Every call is bounded: <see cref="CreateClientOptions"/> gives each HTTP attempt 3 s and retries twice, and each
/// operation as a whole gets <see cref="DefaultOperationTimeout"/>; any storage failure surfaces as
/// <see cref="StreamLogUnavailableException"/> without the SDK's message (it can carry URLs and response bodies).
/// </remarks>
public sealed class BlobStreamLogStore : IStreamLogStore
{
    public const string ContainerName = "chat-streams";

    /// <summary>The longest any one store operation may take, retries included, before it counts as unavailable.</summary>
    public static readonly TimeSpan DefaultOperationTimeout = TimeSpan.FromSeconds(10);

    // The append-block limit of every service version since 2019-12-12 (newer ones allow more; 4 MiB works on all).
    private const int MaxAppendBlockBytes = 4 * 1024 * 1024;

    // Read-modify-write of metadata races with appends (each changes the ETag): a few quick retries always win.
    private const int MaxMetadataAttempts = 8;

    // Metadata names must be C# identifiers; the service treats them case-insensitively.
    private const string CreatedKey = "created";
    private const string CreateAttemptKey = "createattempt";
    private const string OwnerKey = "owner";
    private const string CancelKey = "cancelrequested";
    private const string ReaderSeenKey = "readerseen";

    private readonly BlobContainerClient _container;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _operationTimeout;
    private volatile bool _containerReady;

    /// <param name="service">A client built with <see cref="CreateClientOptions"/> (or options as short).</param>
    /// <param name="timeProvider">Stamps creation and reader times.</param>
    /// <param name="operationTimeout">Deadline per operation, retries included; <see cref="DefaultOperationTimeout"/> when null.</param>
    public BlobStreamLogStore(BlobServiceClient service, TimeProvider timeProvider, TimeSpan? operationTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _container = service.GetBlobContainerClient(ContainerName);
        _timeProvider = timeProvider;
        _operationTimeout = operationTimeout ?? DefaultOperationTimeout;
    }

    public bool IsShared => true;

    /// <summary>
    /// Client options for a live path: 3 s per attempt and two quick retries (0.2 s, then 0.4 s) instead of the SDK's
    /// 100 s and three exponential retries, so a failing store costs a resume about 10 s at most, never minutes.
    /// </summary>
    public static BlobClientOptions CreateClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(1);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(3);
        return options;
    }

    public Task<string> CreateAsync(string streamId, string? ownerKey, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOwnerKey(ownerKey);
        return RunAsync("create", async ct =>
        {
            var blob = _container.GetAppendBlobClient(streamId);
            // A create the SDK retries after a lost response finds its own blob: this attempt id tells it apart from a clash.
            var attempt = Guid.NewGuid().ToString("N");
            var metadata = new Dictionary<string, string>
            {
                [CreatedKey] = StreamLogKeys.FormatTime(_timeProvider.GetUtcNow()),
                [CreateAttemptKey] = attempt,
            };
            if (ownerKey is not null)
            {
                metadata[OwnerKey] = StreamLogKeys.EncodeOwnerKey(ownerKey);
            }

            var options = new AppendBlobCreateOptions
            {
                Metadata = metadata,
                HttpHeaders = new BlobHttpHeaders { ContentType = "text/event-stream; charset=utf-8" },
                Conditions = new AppendBlobRequestConditions { IfNoneMatch = ETag.All },
            };

            await EnsureContainerAsync(ct).ConfigureAwait(false);
            try
            {
                return (await blob.CreateAsync(options, ct).ConfigureAwait(false)).Value.ETag.ToString();
            }
            catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
            {
                // Deleted since this process created it.
                _containerReady = false;
                await EnsureContainerAsync(ct).ConfigureAwait(false);
                return (await blob.CreateAsync(options, ct).ConfigureAwait(false)).Value.ETag.ToString();
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                var existing = (await blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value;
                if (!existing.Metadata.TryGetValue(CreateAttemptKey, out var existingAttempt) || existingAttempt != attempt)
                {
                    throw new StreamLogUnavailableException("A stream log with this id already exists.");
                }

                // Ours, created by an attempt whose answer was lost: the ETag now (a stop may already have changed it).
                return existing.ETag.ToString();
            }
        }, cancellationToken);
    }

    public Task<StreamLogAppend> AppendAsync(string streamId, long offset, ReadOnlyMemory<byte> frames, string? expectedVersion, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOffset(offset, nameof(offset));
        if (frames.IsEmpty)
        {
            return Task.FromResult(new StreamLogAppend(true, expectedVersion ?? "", null));
        }

        return RunAsync("append", async ct =>
        {
            var blob = _container.GetAppendBlobClient(streamId);
            var position = offset;
            var remaining = frames;
            var version = expectedVersion;
            StreamLogState? seen = null;
            while (!remaining.IsEmpty)
            {
                var block = remaining[..Math.Min(remaining.Length, MaxAppendBlockBytes)];
                var result = await AppendBlockAsync(blob, position, block, version, ct).ConfigureAwait(false);
                seen = result.State ?? seen;
                version = result.Version;
                if (!result.Appended)
                {
                    if (position == offset)
                    {
                        return result;
                    }

                    // Part of this batch is in already: the rest goes after it, whatever changed (the caller sees the state).
                    continue;
                }

                position += block.Length;
                remaining = remaining[block.Length..];
            }

            return new StreamLogAppend(true, version ?? "", seen);
        }, cancellationToken);
    }

    public Task<StreamLogRead?> ReadAsync(string streamId, long fromOffset, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOffset(fromOffset, nameof(fromOffset));
        return RunAsync("read", async ct =>
        {
            var blob = _container.GetBlobClient(streamId);
            try
            {
                // One GET: the response carries the bytes and the metadata, so the state is exactly that of these bytes.
                var options = fromOffset == 0 ? new BlobDownloadOptions() : new BlobDownloadOptions { Range = new HttpRange(fromOffset) };
                var result = (await blob.DownloadContentAsync(options, ct).ConfigureAwait(false)).Value;
                var bytes = result.Content.ToMemory();
                var details = result.Details;
                return new StreamLogRead(bytes, StateOf(details.Metadata, fromOffset + bytes.Length, details.LastModified, details.CreatedOn, details.ETag));
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null;
            }
            catch (RequestFailedException e) when (e.Status == 416)
            {
                // A range that starts at the end: nothing new yet.
                var state = await GetStateCoreAsync(blob, ct).ConfigureAwait(false);
                return state is null ? null : new StreamLogRead(ReadOnlyMemory<byte>.Empty, state);
            }
        }, cancellationToken);
    }

    public Task<StreamLogTail?> ReadTailAsync(string streamId, long fromOffset, string? knownVersion, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        StreamLogKeys.EnsureValidOffset(fromOffset, nameof(fromOffset));
        return RunAsync("read", async ct =>
        {
            var blob = _container.GetBlobClient(streamId);
            try
            {
                // If-None-Match: an unchanged log answers 304 with no body, one request, where a range past the end
                // would answer 416 and need a second request to tell "nothing new" from "gone".
                var options = new BlobDownloadOptions
                {
                    Range = fromOffset == 0 ? default : new HttpRange(fromOffset),
                    Conditions = knownVersion is null ? null : new BlobRequestConditions { IfNoneMatch = new ETag(knownVersion) },
                };
                var response = await blob.DownloadContentAsync(options, ct).ConfigureAwait(false);
                if (response.GetRawResponse().Status == 304)
                {
                    return new StreamLogTail(ReadOnlyMemory<byte>.Empty, knownVersion!);
                }

                var result = response.Value;
                return new StreamLogTail(result.Content.ToMemory(), result.Details.ETag.ToString());
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null;
            }
            catch (RequestFailedException e) when (e.Status == 416)
            {
                // Changed, but not in length (a metadata write: a stop, a reader's mark): its new version, for the next poll.
                var state = await GetStateCoreAsync(blob, ct).ConfigureAwait(false);
                return state is null ? null : new StreamLogTail(ReadOnlyMemory<byte>.Empty, state.Version);
            }
        }, cancellationToken);
    }

    public Task<StreamLogState?> GetStateAsync(string streamId, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        return RunAsync("state", ct => GetStateCoreAsync(_container.GetBlobClient(streamId), ct), cancellationToken);
    }

    public Task<bool> RequestCancelAsync(string streamId, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        return UpdateMetadataAsync("cancel", streamId, metadata =>
        {
            if (metadata.TryGetValue(CancelKey, out var value) && value == "true")
            {
                return false;
            }

            metadata[CancelKey] = "true";
            return true;
        }, cancellationToken);
    }

    public Task MarkReaderAsync(string streamId, CancellationToken cancellationToken)
    {
        StreamLogKeys.EnsureValidStreamId(streamId);
        return UpdateMetadataAsync("mark reader", streamId, metadata =>
        {
            metadata[ReaderSeenKey] = StreamLogKeys.FormatTime(_timeProvider.GetUtcNow());
            return true;
        }, cancellationToken);
    }

    private static async Task<StreamLogAppend> AppendBlockAsync(AppendBlobClient blob, long position, ReadOnlyMemory<byte> block, string? version, CancellationToken cancellationToken)
    {
        var options = new AppendBlobAppendBlockOptions
        {
            Conditions = new AppendBlobRequestConditions
            {
                IfAppendPositionEqual = position,
                IfMatch = version is null ? null : new ETag(version),
            },
        };
        try
        {
            using var content = BinaryData.FromBytes(block).ToStream();
            var appended = (await blob.AppendBlockAsync(content, options, cancellationToken).ConfigureAwait(false)).Value;
            return new StreamLogAppend(true, appended.ETag.ToString(), null);
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            // A condition failed; the log's properties say which. Past this block: a retry of an append that succeeded
            // (the SDK's after a lost response, or the caller's): done, not doubled. At this position: the state changed
            // (a stop, a reader's mark), nothing was written. Anywhere else: the log is not what its producer wrote.
            var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            var state = StateOf(properties.Metadata, properties.ContentLength, properties.LastModified, properties.CreatedOn, properties.ETag);
            if (properties.ContentLength >= position + block.Length)
            {
                return new StreamLogAppend(true, state.Version, state);
            }

            if (properties.ContentLength == position)
            {
                return new StreamLogAppend(false, state.Version, state);
            }

            throw new StreamLogUnavailableException("The stream log's length does not match the append offset.");
        }
    }

    private static async Task<StreamLogState?> GetStateCoreAsync(BlobBaseClient blob, CancellationToken cancellationToken)
    {
        try
        {
            var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return StateOf(properties.Metadata, properties.ContentLength, properties.LastModified, properties.CreatedOn, properties.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    private static StreamLogState StateOf(IDictionary<string, string> metadata, long length, DateTimeOffset lastModified, DateTimeOffset blobCreatedOn, ETag etag) =>
        new(
            CreatedAt: StreamLogKeys.ParseTime(metadata.TryGetValue(CreatedKey, out var created) ? created : null) ?? blobCreatedOn,
            Length: length,
            CancelRequested: metadata.TryGetValue(CancelKey, out var cancel) && cancel == "true",
            ReaderSeenAt: StreamLogKeys.ParseTime(metadata.TryGetValue(ReaderSeenKey, out var seen) ? seen : null),
            LastModified: lastModified,
            OwnerKey: StreamLogKeys.DecodeOwnerKey(metadata.TryGetValue(OwnerKey, out var owner) ? owner : null),
            Version: etag.ToString());

    /// <summary>Metadata is replaced as a whole, so it is read, changed and written back only if nobody wrote in between.</summary>
    /// <param name="change">Changes the metadata; false when it already says what it should (no write needed).</param>
    /// <returns>False when no such log exists.</returns>
    private Task<bool> UpdateMetadataAsync(string operation, string streamId, Func<IDictionary<string, string>, bool> change, CancellationToken cancellationToken) =>
        RunAsync(operation, async ct =>
        {
            var blob = _container.GetBlobClient(streamId);
            for (var attempt = 1; ; attempt++)
            {
                BlobProperties properties;
                try
                {
                    properties = (await blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value;
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    return false;
                }

                var metadata = new Dictionary<string, string>(properties.Metadata, StringComparer.OrdinalIgnoreCase);
                if (!change(metadata))
                {
                    return true;
                }

                try
                {
                    await blob.SetMetadataAsync(metadata, new BlobRequestConditions { IfMatch = properties.ETag }, ct).ConfigureAwait(false);
                    return true;
                }
                catch (RequestFailedException e) when (e.Status == 412 && attempt < MaxMetadataAttempts)
                {
                    // Someone wrote in between (an append, another mark): read again. The jitter spreads racing writers apart.
                    await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20) * attempt), ct).ConfigureAwait(false);
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    return false;
                }
            }
        }, cancellationToken);

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        // Once per process: concurrent first calls may both ask, which the service answers idempotently.
        if (_containerReady)
        {
            return;
        }

        await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _containerReady = true;
    }

    /// <summary>Runs one store operation under its deadline and turns every storage or transport failure into
    /// <see cref="StreamLogUnavailableException"/> carrying only the operation, status and error code.</summary>
    private async Task<T> RunAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        // The deadline is wall-clock time on purpose: it bounds real network waits, whatever clock stamps the data.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_operationTimeout);
        try
        {
            return await action(deadline.Token).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StreamLogUnavailableException(e.Status == 0
                ? $"The stream log store could not be reached ({operation})."
                : $"The stream log store failed ({operation}: status {e.Status}, {e.ErrorCode ?? "no error code"}).");
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && StorageFailures.IsTransport(e))
        {
            throw new StreamLogUnavailableException(e is OperationCanceledException
                ? $"The stream log store did not answer within {_operationTimeout.TotalSeconds:0.#} s ({operation})."
                : $"The stream log store could not be reached ({operation}: {e.GetType().Name}).");
        }
    }
}
