using Azure.Core;
using Azure.Identity;
using ChatFunctions.Configuration;
using ChatFunctions.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Resumption;

/// <summary>Chooses the stream log store once, at registration: blobs when a storage account is configured, else memory.</summary>
public static class StreamLogStoreFactory
{
    /// <summary>For <c>services.TryAddSingleton(StreamLogStoreFactory.Create)</c>: reads IConfiguration,
    /// IOptions&lt;ResumeOptions&gt;, TimeProvider (system when absent), TokenCredential (for identity-based storage;
    /// DefaultAzureCredential when absent) and ILoggerFactory.</summary>
    public static IStreamLogStore Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var configuration = services.GetRequiredService<IConfiguration>();
        var account = StorageAccount.FromConfiguration(configuration, services.GetService<TokenCredential>() ?? new DefaultAzureCredential());
        return Create(
            account,
            services.GetRequiredService<IOptions<ResumeOptions>>().Value,
            services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IStreamLogStore).Namespace!));
    }

    /// <param name="account">The configured account, or null for none.</param>
    public static IStreamLogStore Create(StorageAccount? account, ResumeOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (account is not null)
        {
            var store = new BlobStreamLogStore(account.CreateBlobServiceClient(BlobStreamLogStore.CreateClientOptions()), timeProvider);
            ResumptionLog.BlobStoreChosen(logger, BlobStreamLogStore.ContainerName, account.Description);
            return store;
        }

        ResumptionLog.InMemoryStoreChosen(logger, options.RetentionMinutes, InMemoryStreamLogStore.DefaultMaxTotalBytes / (1024 * 1024));
        return new InMemoryStreamLogStore(timeProvider, options.Retention);
    }
}
