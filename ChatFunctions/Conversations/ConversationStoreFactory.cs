using Azure.Core;
using Azure.Identity;
using ChatFunctions.Diagnostics;
using ChatFunctions.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Conversations;

/// <summary>Chooses the conversation store once, at registration: blobs when a storage account is configured, else memory.</summary>
public static class ConversationStoreFactory
{
    public static IConversationStore Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var configuration = services.GetRequiredService<IConfiguration>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IConversationStore).Namespace!);
        var account = StorageAccount.FromConfiguration(configuration, services.GetService<TokenCredential>() ?? new DefaultAzureCredential());
        if (account is null)
        {
            Log.ConversationMemoryStoreChosen(logger);
            return new InMemoryConversationStore();
        }

        Log.ConversationBlobStoreChosen(logger, BlobConversationStore.ContainerName, account.Description);
        return new BlobConversationStore(account.CreateBlobServiceClient(BlobConversationStore.CreateClientOptions()), account.IsConnectionString);
    }
}
