using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>
/// Provider-independent chat settings. Names are flat upper-snake keys so the same
/// names work as environment variables, Function App settings and local.settings.json values.
/// </summary>
public sealed class ChatServiceOptions
{
    /// <summary>auto (default): Azure OpenAI when its endpoint is set, else an OpenAI-compatible endpoint when its base URL is set, else the demo model.</summary>
    [ConfigurationKeyName("CHAT_PROVIDER")]
    public ChatProviderKind Provider { get; set; } = ChatProviderKind.Auto;

    [ConfigurationKeyName("CHAT_SYSTEM_PROMPT")]
    [Required, MaxLength(16_000)]
    public string SystemPrompt { get; set; } = "You are a helpful assistant. Answer in Markdown.";

    [ConfigurationKeyName("CHAT_MAX_OUTPUT_TOKENS")]
    [Range(1, 128_000)]
    public int MaxOutputTokens { get; set; } = 1024;

    [ConfigurationKeyName("CHAT_TEMPERATURE")]
    [Range(0.0, 2.0)]
    public float Temperature { get; set; } = 0.7f;

    /// <summary>The reasoning effort sent to Azure OpenAI as <c>reasoning_effort</c>; empty sends none, so the model's
    /// own default applies. The values the API accepts; which of them a model supports is in docs/deploy.md. Never sent
    /// to OpenAI-compatible servers, which mostly reject fields they do not know.</summary>
    [ConfigurationKeyName("CHAT_REASONING_EFFORT")]
    [AllowedValues(null, "", "none", "minimal", "low", "medium", "high", "xhigh")]
    public string? ReasoningEffort { get; set; }

    /// <summary>Which Azure OpenAI API the replies come from: <c>chatCompletions</c> (default) or <c>responses</c> (the v1
    /// Responses API, whose stream also carries the model's reasoning summaries). Azure OpenAI only: the demo model and
    /// OpenAI-compatible servers speak Chat Completions, and <c>responses</c> with them is refused at start.</summary>
    [ConfigurationKeyName("CHAT_API")]
    [Required, AllowedValues(ChatApis.ChatCompletions, ChatApis.Responses)]
    public string Api { get; set; } = ChatApis.ChatCompletions;

    [ConfigurationKeyName("CHAT_MAX_MESSAGE_CHARS")]
    [Range(1, 1_000_000)]
    public int MaxMessageChars { get; set; } = 8_000;

    [ConfigurationKeyName("CHAT_MAX_HISTORY_ITEMS")]
    [Range(0, 1_000)]
    public int MaxHistoryItems { get; set; } = 50;

    [ConfigurationKeyName("CHAT_MAX_HISTORY_CHARS")]
    [Range(0, 4_000_000)]
    public int MaxHistoryChars { get; set; } = 64_000;

    [ConfigurationKeyName("CHAT_MAX_REQUEST_BYTES")]
    [Range(1_024, 16 * 1024 * 1024)]
    public int MaxRequestBytes { get; set; } = 256 * 1024;

    /// <summary>Seconds without a written frame before an SSE comment keeps idle proxies (and the 230 s front-end limit) from cutting the stream.</summary>
    [ConfigurationKeyName("CHAT_HEARTBEAT_SECONDS")]
    [Range(1, 200)]
    public int HeartbeatSeconds { get; set; } = 15;

    /// <summary>Attempts for a 429/5xx answered before the first token; after the first token nothing is retried.</summary>
    [ConfigurationKeyName("CHAT_RETRY_MAX_ATTEMPTS")]
    [Range(1, 10)]
    public int RetryMaxAttempts { get; set; } = 3;

    /// <summary>Longest total wait for retries before the first token; a longer retry-after is passed to the client instead.</summary>
    [ConfigurationKeyName("CHAT_RETRY_BUDGET_SECONDS")]
    [Range(0, 120)]
    public int RetryBudgetSeconds { get; set; } = 20;

    /// <summary>Folder with the chat page (static-web's build output) served at / by the standalone host only.</summary>
    [ConfigurationKeyName("CHAT_WEB_ROOT")]
    public string? WebRoot { get; set; }

    /// <summary>Seconds the model may stay silent mid-stream before the stream ends with a retryable timeout.</summary>
    [ConfigurationKeyName("CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS")]
    [Range(1, 600)]
    public int UpstreamIdleTimeoutSeconds { get; set; } = 90;

    /// <summary>Seconds a model that accepted the request may think before its first token, in place of the idle
    /// timeout: a reasoning model is silent for as long as it reasons (a minute and more at high effort), and the
    /// heartbeat keeps the client's connection open meanwhile.</summary>
    [ConfigurationKeyName("CHAT_THINKING_TIMEOUT_SECONDS")]
    [Range(1, 600)]
    public int ThinkingTimeoutSeconds { get; set; } = 180;

    /// <summary>Chat requests one client (IP address) may start per minute on one instance; 0 turns the limit off.
    /// It bounds what one page or script can spend on tokens.</summary>
    [ConfigurationKeyName("CHAT_RATE_LIMIT_PER_MINUTE")]
    [Range(0, 100_000)]
    public int RateLimitPerMinute { get; set; }

    /// <summary>Standalone host only: the proxies (comma-separated IPs or CIDR networks) whose X-Forwarded-For names the
    /// client for the rate limit and budgets. Empty trusts nobody, so a client cannot pick its own address.</summary>
    [ConfigurationKeyName("CHAT_TRUSTED_PROXIES")]
    public string? TrustedProxies { get; set; }

    /// <summary>Whether the demo model may answer when no real model is configured. Deployments set false, so a
    /// missing setting shows up as 503 and an unconfigured /api/health instead of demo replies.</summary>
    [ConfigurationKeyName("CHAT_DEMO_ENABLED")]
    public bool DemoEnabled { get; set; } = true;
}

/// <summary>The values of CHAT_API.</summary>
public static class ChatApis
{
    public const string ChatCompletions = "chatCompletions";
    public const string Responses = "responses";
}

public enum ChatProviderKind
{
    Auto,
    AzureOpenAI,
    OpenAICompatible,
    Demo,
}
