using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>Spend control: per-caller daily token budgets, shared across instances through storage when it is
/// configured, and the number of replies one caller may have open at once.</summary>
public sealed class TokenBudgetOptions
{
    /// <summary>Tokens (prompt and reply, as the model counts them) one caller may spend per UTC day; 0 turns budgets off.</summary>
    [ConfigurationKeyName("CHAT_TOKEN_BUDGET_PER_DAY")]
    [Range(0, 1_000_000_000_000)]
    public long TokensPerDay { get; set; }

    /// <summary>What a transient budget store failure (timeout, throttling, 5xx) does to a request: <c>Refuse</c> (503)
    /// or <c>Allow</c> (the request goes ahead unreserved and its real spend is added when it ends). Permanent failures
    /// (authentication, authorization, a missing table) always refuse.</summary>
    [ConfigurationKeyName("CHAT_TOKEN_BUDGET_TRANSIENT_STORE_ERRORS")]
    public TransientBudgetStorePolicy TransientStoreErrors { get; set; } = TransientBudgetStorePolicy.Refuse;

    /// <summary>Replies one caller may have open at once on an instance, counting a disconnected reply still in its
    /// grace window; 0 turns the limit off.</summary>
    [ConfigurationKeyName("CHAT_MAX_OPEN_REPLIES_PER_CALLER")]
    [Range(0, 10_000)]
    public int MaxOpenRepliesPerCaller { get; set; } = 6;
}

/// <summary>See <see cref="TokenBudgetOptions.TransientStoreErrors"/>.</summary>
public enum TransientBudgetStorePolicy
{
    Refuse,
    Allow,
}
