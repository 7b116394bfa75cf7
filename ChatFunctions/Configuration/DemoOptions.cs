using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>The built-in demo model: what a new user sees before configuring a real one.</summary>
public sealed class DemoOptions
{
    /// <summary>Delay between demo tokens; 35 ms is about 28 tokens/s, the pace of a hosted model.</summary>
    [ConfigurationKeyName("DEMO_TOKEN_DELAY_MS")]
    [Range(0, 10_000)]
    public int TokenDelayMs { get; set; } = 35;
}
