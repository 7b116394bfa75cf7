using Azure;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>
/// Budgets in Azure Table storage, shared by every instance: table <c>chatbudgets</c>, one partition per UTC day,
/// one row per caller (a salted hash, see <see cref="BudgetDay.RowKey"/>) holding <c>Spent</c>. Increments are
/// read-modify-write with the entity's ETag, retried on a conflict, so concurrent instances never lose a spend.
/// <para>
/// A storage failure fails open: the request goes ahead and the failure is logged and counted
/// (<c>chatfunctions.budget.store_errors</c>). Budgets bound cost behind the per-instance rate limit and the
/// instance cap; refusing every chat while storage is down (when the Functions host, which needs the same account,
/// is struggling too) would turn a storage blip into an outage for everyone, signed-in users included.
/// </para>
/// </summary>
public sealed class TableTokenBudget : ITokenBudget
{
    public const string TableName = "chatbudgets";
    private const string SpentProperty = "Spent";
    // One caller rarely runs many streams at once; enough for dozens of concurrent writers of one row.
    private const int MaxAttempts = 30;

    private readonly TableClient _table;
    private readonly long _limit;
    private readonly TimeProvider _time;
    private readonly TokenBudgetMetrics _metrics;
    private readonly ILogger<TableTokenBudget> _logger;
    private Task? _created;

    public TableTokenBudget(TableServiceClient service, IOptions<TokenBudgetOptions> options, TimeProvider time, TokenBudgetMetrics metrics, ILogger<TableTokenBudget> logger)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(options);
        _table = service.GetTableClient(TableName);
        _limit = options.Value.TokensPerDay;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Short timeouts and few retries: the check sits in front of the first token.</summary>
    public static TableClientOptions ClientOptions()
    {
        var options = new TableClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(5);
        return options;
    }

    public async ValueTask<BudgetDecision> CheckAsync(CallerKey caller, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var day = BudgetDay.Of(now);
        try
        {
            await EnsureTableAsync(cancellationToken);
            var entity = await _table.GetEntityIfExistsAsync<TableEntity>(day, BudgetDay.RowKey(day, caller), [SpentProperty], cancellationToken);
            return BudgetDay.Decide(entity.HasValue ? entity.Value!.GetInt64(SpentProperty) ?? 0 : 0, _limit, now);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            StoreFailed("check", ex);
            return BudgetDay.Decide(0, _limit, now);
        }
    }

    public async ValueTask RecordAsync(CallerKey caller, long tokens, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (tokens == 0)
        {
            return;
        }

        var day = BudgetDay.Of(_time.GetUtcNow());
        var row = BudgetDay.RowKey(day, caller);
        try
        {
            await EnsureTableAsync(cancellationToken);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var existing = await _table.GetEntityIfExistsAsync<TableEntity>(day, row, cancellationToken: cancellationToken);
                    if (!existing.HasValue)
                    {
                        await _table.AddEntityAsync(new TableEntity(day, row) { [SpentProperty] = tokens }, cancellationToken);
                    }
                    else
                    {
                        var entity = existing.Value!;
                        entity[SpentProperty] = (entity.GetInt64(SpentProperty) ?? 0) + tokens;
                        await _table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
                    }

                    _metrics.Recorded(tokens);
                    return;
                }
                catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < MaxAttempts)
                {
                    // Another instance wrote first (created the row, or changed it since we read it): read again.
                    await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, Math.Min(200, 10 * attempt))), _time, cancellationToken);
                }
            }
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            StoreFailed("record", ex);
        }
    }

    private Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        var created = _created;
        if (created is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }

        if (created is null || created.IsFaulted || created.IsCanceled)
        {
            // Once per process; a failed attempt is tried again by the next request.
            created = _table.CreateIfNotExistsAsync(CancellationToken.None);
            _created = created;
        }

        return created.WaitAsync(cancellationToken);
    }

    /// <summary>Anything but our own caller's cancellation is the store failing.</summary>
    private static bool IsStoreFailure(Exception exception, CancellationToken cancellationToken) =>
        !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested);

    private void StoreFailed(string operation, Exception exception)
    {
        Log.BudgetStoreUnavailable(_logger, operation, exception);
        _metrics.StoreFailed(operation);
    }
}
