using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>Any OpenAI-compatible endpoint (Ollama, Foundry Local, LM Studio): how people develop offline with a real model.</summary>
public sealed class OpenAICompatibleOptions
{
    /// <summary>Base URL including the version path, e.g. http://localhost:11434/v1.</summary>
    [ConfigurationKeyName("OPENAI_BASE_URL")]
    public Uri? BaseUrl { get; set; }

    [ConfigurationKeyName("OPENAI_MODEL")]
    public string? Model { get; set; }

    [ConfigurationKeyName("OPENAI_API_KEY")]
    public string? ApiKey { get; set; }

    public bool IsConfigured => BaseUrl is not null;
}
