using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Http;

/// <summary>Answers a request with a stream: the SSE response headers, then the delivery loop until the client has
/// the last frame, leaves, or stalls.</summary>
public sealed class EventStreamDelivery(
    IOptions<ChatServiceOptions> chatOptions,
    IOptions<ResumeOptions> resumeOptions,
    TimeProvider time,
    IChatStreamObserver observer,
    ILogger<EventStreamDelivery> logger)
{
    public async Task<DeliveryEnd> DeliverAsync(HttpContext context, IStreamSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(source);
        using (source)
        {
            EventStreamResponse.Start(context.Response);
            var stall = resumeOptions.Value.ClientStallTimeout;
            var delivery = new StreamDelivery(time, TimeSpan.FromSeconds(chatOptions.Value.HeartbeatSeconds), stall, context.Abort);
            var end = await delivery.RunAsync(source, context.Response.BodyWriter, cancellationToken);
            if (end == DeliveryEnd.Stalled)
            {
                ResumptionLog.ClientStalled(logger, resumeOptions.Value.ClientStallTimeoutSeconds);
            }

            observer.DeliveryEnded(end);
            return end;
        }
    }
}
