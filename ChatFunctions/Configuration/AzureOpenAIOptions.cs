using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>Azure OpenAI settings, named like the azd outputs so `azd env get-values` can feed a local run.</summary>
public sealed class AzureOpenAIOptions
{
    [ConfigurationKeyName("AZURE_OPENAI_ENDPOINT")]
    public Uri? Endpoint { get; set; }

    [ConfigurationKeyName("AZURE_OPENAI_CHAT_DEPLOYMENT")]
    public string? ChatDeployment { get; set; }

    /// <summary>Optional. Keyless (Entra ID) is the default; a key is used only when one is set.</summary>
    [ConfigurationKeyName("AZURE_OPENAI_API_KEY")]
    public string? ApiKey { get; set; }

    /// <summary>Client id of a user-assigned managed identity; empty means the system identity or developer credentials.</summary>
    [ConfigurationKeyName("AZURE_CLIENT_ID")]
    public string? ClientId { get; set; }

    public bool IsConfigured => Endpoint is not null;
}
