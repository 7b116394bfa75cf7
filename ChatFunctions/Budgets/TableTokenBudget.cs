using Azure;
using Azure.Data.Tables;
using ChatFunctions.Access;
using ChatFunctions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>
/// Budgets in Azure Table storage, shared by every instance: table <c>chatbudgets</c>, one partition per UTC day,
/// one row per caller (a salted hash, see <see cref="BudgetDay.RowKey"/>) holding <c>Spent</c>: settled spends plus
/// open reservations.
/// <para>
/// Every change is a read-modify-write conditional on the entity's ETag; a conflict (another instance wrote first)
/// reads again and retries until the write lands, so no reservation or settlement is lost. Within one instance the
/// changes to one row are combined: while a write to the row is in flight, new reservations and settlements queue,
/// and the next write applies them all at once, deciding each reservation in order against the total it reads. So
/// one caller's thousand concurrent requests on one instance cost a handful of writes, and ETag conflicts arise only
/// between instances.
/// </para>
/// <para>
/// A storage failure is returned to the caller (see <see cref="SpendGate"/> for the policy): a reservation that
/// cannot be written is never treated as made.
/// </para>
/// </summary>
public sealed class TableTokenBudget : ITokenBudget
{
    public const string TableName = "chatbudgets";
    public const string SpentProperty = "Spent";

    /// <summary>Longest a write may go on meeting conflicts before its reservations are refused as unavailable.</summary>
    public static readonly TimeSpan ConflictDeadline = TimeSpan.FromSeconds(30);

    /// <summary>Attempts at a settlement that meets store failures (with 0.5, 1, 2, 4 s between); conflicts do not count.</summary>
    internal const int SettleAttempts = 5;

    private readonly TableClient _table;
    private readonly long _limit;
    private readonly TimeProvider _time;
    private readonly TokenBudgetMetrics _metrics;
    private readonly ILogger<TableTokenBudget> _logger;
    private readonly Dictionary<(string Day, string Row), RowWriter> _rows = [];
    private readonly Lock _gate = new();
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

    /// <summary>Short timeouts and few retries: the reservation sits in front of the first token.</summary>
    public static TableClientOptions ClientOptions()
    {
        var options = new TableClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(5);
        return options;
    }

    public async ValueTask<BudgetReservation> ReserveAsync(CallerKey caller, long tokens, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
        var day = BudgetDay.Of(now);
        var change = new RowChange(tokens, conditional: true);
        Enqueue((day, BudgetDay.RowKey(day, caller)), change);
        try
        {
            // Not cancellable once queued: a reservation that lands must be known, so that it is settled.
            var (applied, total) = await change.Done.Task;
            return new BudgetReservation(applied ? BudgetOutcome.Reserved : BudgetOutcome.Spent, caller, day, applied ? tokens : 0, total, _limit, BudgetDay.NextReset(now));
        }
        catch (Exception ex)
        {
            var kind = BudgetStoreFailures.Classify(ex);
            BudgetLog.BudgetStoreFailed(_logger, "reserve", kind, ex);
            _metrics.StoreFailed("reserve", kind);
            return new BudgetReservation(BudgetOutcome.StoreUnavailable, caller, day, 0, 0, _limit, BudgetDay.NextReset(now)) { Failure = kind };
        }
    }

    public async ValueTask SettleAsync(BudgetReservation reservation, long spent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        ArgumentOutOfRangeException.ThrowIfNegative(spent);
        if (reservation.Outcome is not (BudgetOutcome.Reserved or BudgetOutcome.StoreUnavailable))
        {
            return;
        }

        var delta = spent - reservation.Tokens;
        if (delta == 0)
        {
            return;
        }

        var key = (reservation.Day, BudgetDay.RowKey(reservation.Day, reservation.Caller));
        for (var attempt = 1; ; attempt++)
        {
            var change = new RowChange(delta, conditional: false);
            Enqueue(key, change);
            try
            {
                await change.Done.Task;
                return;
            }
            catch (Exception ex)
            {
                var kind = BudgetStoreFailures.Classify(ex);
                _metrics.StoreFailed("settle", kind);
                if (kind == BudgetStoreFailureKind.Permanent || attempt == SettleAttempts)
                {
                    // The reservation (the worst case) stays charged: an overcharge, never a lost spend.
                    BudgetLog.BudgetStoreFailed(_logger, "settle", kind, ex);
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500 << (attempt - 1)), _time, CancellationToken.None);
            }
        }
    }

    private void Enqueue((string Day, string Row) key, RowChange change)
    {
        lock (_gate)
        {
            if (!_rows.TryGetValue(key, out var writer))
            {
                writer = new RowWriter();
                _rows[key] = writer;
            }

            writer.Queue.Add(change);
            if (writer.Running)
            {
                return;
            }

            writer.Running = true;
        }

        _ = RunWriterAsync(key);
    }

    /// <summary>Writes the row's queued changes, one combined write at a time, until none are left.</summary>
    private async Task RunWriterAsync((string Day, string Row) key)
    {
        await Task.Yield();
        while (true)
        {
            List<RowChange> batch;
            lock (_gate)
            {
                var writer = _rows[key];
                if (writer.Queue.Count == 0)
                {
                    _rows.Remove(key);
                    return;
                }

                batch = writer.Queue;
                writer.Queue = [];
            }

            try
            {
                await WriteAsync(key.Day, key.Row, batch);
            }
            catch (Exception ex)
            {
                foreach (var change in batch)
                {
                    change.Done.TrySetException(ex);
                }
            }
        }
    }

    private async Task WriteAsync(string day, string row, List<RowChange> batch)
    {
        await EnsureTableAsync();
        var started = _time.GetTimestamp();
        var results = new (bool Applied, long Total)[batch.Count];
        for (var attempt = 1; ; attempt++)
        {
            var existing = await _table.GetEntityIfExistsAsync<TableEntity>(day, row, cancellationToken: CancellationToken.None);
            var total = existing.HasValue ? existing.Value!.GetInt64(SpentProperty) ?? 0 : 0;
            var changed = false;
            long reserved = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var change = batch[i];
                if (change.Conditional && !BudgetDay.Fits(total, change.Tokens, _limit))
                {
                    results[i] = (false, total);
                    continue;
                }

                total = Math.Max(0, total + change.Tokens);
                reserved += change.Conditional ? change.Tokens : 0;
                changed |= change.Tokens != 0;
                results[i] = (true, total);
            }

            try
            {
                if (changed)
                {
                    var entity = new TableEntity(day, row) { [SpentProperty] = total };
                    if (existing.HasValue)
                    {
                        await _table.UpdateEntityAsync(entity, existing.Value!.ETag, TableUpdateMode.Replace, CancellationToken.None);
                    }
                    else
                    {
                        await _table.AddEntityAsync(entity, CancellationToken.None);
                    }
                }

                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(results[i]);
                }

                _metrics.Written(reserved, batch.Count);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another instance wrote first (created the row, or changed it since we read it): read again and
                // decide every queued reservation again against the new total.
                _metrics.Conflicted();
                if (_time.GetElapsedTime(started) > ConflictDeadline)
                {
                    throw new TimeoutException($"The budget row kept changing for {ConflictDeadline.TotalSeconds} s.", ex);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, Math.Min(50, 5 * attempt) + 1)), _time, CancellationToken.None);
            }
        }
    }

    private Task EnsureTableAsync()
    {
        var created = _created;
        if (created is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }

        if (created is null || created.IsFaulted || created.IsCanceled)
        {
            // Once per process; a failed attempt is tried again by the next write.
            created = _table.CreateIfNotExistsAsync(CancellationToken.None);
            _created = created;
        }

        return created;
    }

    /// <summary>One reservation (conditional: refused when it would not fit) or settlement (always applied).</summary>
    private sealed class RowChange(long tokens, bool conditional)
    {
        public long Tokens { get; } = tokens;

        public bool Conditional { get; } = conditional;

        public TaskCompletionSource<(bool Applied, long Total)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class RowWriter
    {
        public List<RowChange> Queue { get; set; } = [];

        public bool Running { get; set; }
    }
}
