using Azure.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace ChatFunctions.Storage;

/// <summary>Reads the storage settings while the host starts, so that a configuration that cannot work (a key that is
/// not base64, a URI that is not one) stops the app at once, naming the setting, instead of failing every request.</summary>
internal sealed class StorageSettingsCheck(IConfiguration configuration, TokenCredential credential) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = StorageAccount.FromConfiguration(configuration, credential);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
