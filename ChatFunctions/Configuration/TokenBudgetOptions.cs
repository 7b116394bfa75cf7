using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>Per-caller daily token budgets, shared across instances through storage when it is configured.</summary>
public sealed class TokenBudgetOptions
{
    /// <summary>Tokens (prompt and reply, as the model counts them) one caller may spend per UTC day; 0 turns budgets off.</summary>
    [ConfigurationKeyName("CHAT_TOKEN_BUDGET_PER_DAY")]
    [Range(0, 1_000_000_000_000)]
    public long TokensPerDay { get; set; }
}
