using ChatFunctions.Resumption;

namespace ChatFunctions.Tests.Resumption;

internal static class StreamLogStoreTestExtensions
{
    /// <summary>An append with no version condition (a test writing a log as its producer would, with nobody else changing it).</summary>
    public static Task<StreamLogAppend> AppendAsync(this IStreamLogStore store, string streamId, long offset, ReadOnlyMemory<byte> frames, CancellationToken cancellationToken) =>
        store.AppendAsync(streamId, offset, frames, null, cancellationToken);
}
