using Microsoft.Extensions.Logging;

namespace ChatFunctions.Resumption;

/// <summary>Source-generated log messages of resumable streams (ids 2001+, apart from Diagnostics/Log.cs). No reply text.</summary>
internal static partial class ResumptionLog
{
    [LoggerMessage(2001, LogLevel.Information, "Stream logs: append blobs in container {Container} of {Account}; a stream resumes on any instance")]
    public static partial void BlobStoreChosen(ILogger logger, string container, string account);

    [LoggerMessage(2002, LogLevel.Information, "Stream logs: in memory (no AzureWebJobsStorage configured); a stream resumes on this instance only, for {RetentionMinutes} minutes, within {MaxMegabytes} MiB")]
    public static partial void InMemoryStoreChosen(ILogger logger, int retentionMinutes, long maxMegabytes);
}
