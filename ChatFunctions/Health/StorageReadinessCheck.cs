using Azure;
using Azure.Core;
using Azure.Data.Tables;
using ChatFunctions.Budgets;
using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Health;

/// <summary>
/// Ready when the storage account the app keeps its data in answers this app's identity: the stream log container,
/// and the budget table when budgets are kept there. "Not found" is an answer (the stores create what they use on
/// first use); a refusal (401/403), a timeout or no connection is not. Without a configured account both stores are
/// in memory, which is always ready.
/// </summary>
public sealed class StorageReadinessCheck(IConfiguration configuration, TokenCredential credential, IOptions<TokenBudgetOptions> budgets)
    : IHealthCheck
{
    private readonly Lazy<StorageAccount?> _account = new(() => StorageAccount.FromConfiguration(configuration, credential));

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_account.Value is not { } account)
        {
            return HealthCheckResult.Healthy("In memory: no AzureWebJobsStorage is configured.");
        }

        try
        {
            var container = account.CreateBlobServiceClient(BlobStreamLogStore.CreateClientOptions())
                .GetBlobContainerClient(BlobStreamLogStore.ContainerName);
            await container.ExistsAsync(cancellationToken);
            if (budgets.Value.TokensPerDay > 0)
            {
                await ProbeTableAsync(account.CreateTableServiceClient(TableTokenBudget.ClientOptions()).GetTableClient(TableTokenBudget.TableName), cancellationToken);
            }

            return HealthCheckResult.Healthy("The storage account answers this app's identity.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The exception's type and status only: its message may quote the account's address with a SAS or key.
            var status = ex is RequestFailedException { Status: > 0 } failed ? $" (HTTP {failed.Status})" : "";
            return HealthCheckResult.Unhealthy($"The storage account does not answer this app's identity: {ex.GetType().Name}{status}.");
        }
    }

    private static async Task ProbeTableAsync(TableClient table, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var _ in table.QueryAsync<TableEntity>(filter: "PartitionKey eq 'readiness'", maxPerPage: 1, select: ["PartitionKey"], cancellationToken: cancellationToken).AsPages())
            {
                break;
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Reachable and allowed in: the budget store creates its table on first use.
        }
    }
}
