using Azure.Core;
using Azure.Identity;
using ChatFunctions.Conversations;
using ChatFunctions.Diagnostics;
using ChatFunctions.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Shares;

/// <summary>Chooses the share store once, at registration: blobs when a storage account is configured, else memory.</summary>
public static class ShareStoreFactory
{
    public static IShareStore Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var configuration = services.GetRequiredService<IConfiguration>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IShareStore).Namespace!);
        var account = StorageAccount.FromConfiguration(configuration, services.GetService<TokenCredential>() ?? new DefaultAzureCredential());
        if (account is null)
        {
            Log.ShareMemoryStoreChosen(logger);
            return new InMemoryShareStore();
        }

        Log.ShareBlobStoreChosen(logger, BlobShareStore.ContainerName, account.Description);
        // The same request-path retry budget as conversations: 5 s per attempt, two quick retries.
        return new BlobShareStore(account.CreateBlobServiceClient(BlobConversationStore.CreateClientOptions()), account.IsConnectionString);
    }
}
