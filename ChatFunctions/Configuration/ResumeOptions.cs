using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>Resumable streams: how long a stream outlives its reader, how long its log is kept, how often it is persisted.</summary>
public sealed class ResumeOptions
{
    /// <summary>Seconds the server keeps generating after the client disconnected, so a reconnect continues the same reply.</summary>
    [ConfigurationKeyName("CHAT_RESUME_GRACE_SECONDS")]
    [Range(0, 600)]
    public int GraceSeconds { get; set; } = 30;

    /// <summary>Minutes after its start that a stream can still be resumed; later resumes get 410.</summary>
    [ConfigurationKeyName("CHAT_RESUME_RETENTION_MINUTES")]
    [Range(1, 10_080)]
    public int RetentionMinutes { get; set; } = 60;

    /// <summary>The beat of the producer's appends to the stream log (the wall clock's multiples of it, the same on every
    /// instance, which a follower elsewhere reads just after) once no reader is attached on its instance or a reader
    /// follows from another; every fourth beat while a reader keeps up on its instance. One storage write per append,
    /// never one per token (each is a billed transaction). A stop sent to another instance reaches the model call
    /// within four intervals plus store round trips.</summary>
    [ConfigurationKeyName("CHAT_RESUME_FLUSH_MILLISECONDS")]
    [Range(50, 5_000)]
    public int FlushMilliseconds { get; set; } = 250;

    /// <summary>Seconds a reader may accept nothing before the server drops it (the stream itself goes on).</summary>
    [ConfigurationKeyName("CHAT_CLIENT_STALL_TIMEOUT_SECONDS")]
    [Range(1, 600)]
    public int ClientStallTimeoutSeconds { get; set; } = 30;

    public TimeSpan Grace => TimeSpan.FromSeconds(GraceSeconds);

    public TimeSpan Retention => TimeSpan.FromMinutes(RetentionMinutes);

    public TimeSpan FlushInterval => TimeSpan.FromMilliseconds(FlushMilliseconds);

    public TimeSpan ClientStallTimeout => TimeSpan.FromSeconds(ClientStallTimeoutSeconds);
}
