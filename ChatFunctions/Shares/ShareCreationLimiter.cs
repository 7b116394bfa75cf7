using System.Threading.RateLimiting;
using ChatFunctions.Access;

namespace ChatFunctions.Shares;

/// <summary>
/// At most <see cref="PermitsPerWindow"/> new shares per signed-in user per <see cref="Window"/> (a sliding window,
/// System.Threading.RateLimiting), keyed by the validated token's user, never by anything the request says. Per
/// instance: Flex Consumption scales out, so the effective limit is this times the instances; the per-user cap on
/// stored shares (CHAT_CONVERSATION_MAX_COUNT) holds across instances.
/// </summary>
public sealed class ShareCreationLimiter : IDisposable
{
    public const int PermitsPerWindow = 10;

    public static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(user =>
        RateLimitPartition.GetSlidingWindowLimiter(user, _ => new SlidingWindowRateLimiterOptions
        {
            PermitLimit = PermitsPerWindow,
            Window = Window,
            SegmentsPerWindow = 10,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>Null when the caller may create a share now, else how long to wait.</summary>
    public TimeSpan? TryAdmit(CallerKey caller)
    {
        using var lease = _limiter.AttemptAcquire(caller.Value);
        return lease.IsAcquired ? null
            : lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : Window / 10;
    }

    public void Dispose() => _limiter.Dispose();
}
