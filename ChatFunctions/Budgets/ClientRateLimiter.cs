using System.Threading.RateLimiting;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>
/// A sliding-window limit on chat requests per client address (<see cref="ClientAddress.Resolve"/>, never a header
/// the client controls; System.Threading.RateLimiting), checked before the body is read. Per instance: Flex
/// Consumption scales out, so the effective limit is this times the instances.
/// </summary>
public sealed class ClientRateLimiter : IDisposable
{
    /// <summary>The sliding window the per-minute limit counts over.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>The window's segments: a refused client waits at most one of them.</summary>
    public const int SegmentsPerWindow = 6;

    private readonly PartitionedRateLimiter<string>? _limiter;

    public ClientRateLimiter(IOptions<ChatServiceOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var perMinute = options.Value.RateLimitPerMinute;
        if (perMinute > 0)
        {
            _limiter = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetSlidingWindowLimiter(client, _ =>
                new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = perMinute,
                    Window = Window,
                    SegmentsPerWindow = SegmentsPerWindow,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
        }
    }

    /// <summary>Null when a request from <paramref name="clientAddress"/> may go ahead, else the refusal that says how
    /// long to wait.</summary>
    public Refusal? Admit(string clientAddress) => TryAdmit(clientAddress) is { } wait
        ? new Refusal(RefusalKind.TooManyRequests, "client", $"Too many chat requests from this address; try again in {Math.Ceiling(wait.TotalSeconds)} s.")
        {
            RetryAfter = wait,
        }
        : null;

    /// <summary>Null when a request from <paramref name="clientAddress"/> may go ahead, else how long it should wait.</summary>
    public TimeSpan? TryAdmit(string clientAddress)
    {
        if (_limiter is null)
        {
            return null;
        }

        using var lease = _limiter.AttemptAcquire(clientAddress);
        if (lease.IsAcquired)
        {
            return null;
        }

        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : Window / SegmentsPerWindow;
    }

    public void Dispose() => _limiter?.Dispose();
}
