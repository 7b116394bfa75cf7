using Azure.Core;
using ChatFunctions.Configuration;
using ChatFunctions.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>Chooses the budget store once, at start: off, Azure Tables when storage is configured, else this process's memory.</summary>
public static class TokenBudgets
{
    public static ITokenBudget Create(IServiceProvider services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.GetRequiredService<IOptions<TokenBudgetOptions>>();
        var limit = options.Value.TokensPerDay;
        if (limit == 0)
        {
            return new UnlimitedTokenBudget();
        }

        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TokenBudgets));
        var storage = StorageAccount.FromConfiguration(configuration, services.GetRequiredService<TokenCredential>());
        if (storage is null)
        {
            BudgetLog.BudgetsConfigured(logger, limit, "memory (this instance only: no AzureWebJobsStorage)");
            return ActivatorUtilities.CreateInstance<InMemoryTokenBudget>(services);
        }

        BudgetLog.BudgetsConfigured(logger, limit, $"table {TableTokenBudget.TableName} in {storage.Description}");
        return ActivatorUtilities.CreateInstance<TableTokenBudget>(services, storage.CreateTableServiceClient(TableTokenBudget.ClientOptions()));
    }
}
