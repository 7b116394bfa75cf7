using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>The model the app talks to, chosen once at start from configuration.</summary>
public interface IChatModelProvider
{
    /// <summary>Wire name: azure-openai, openai-compatible, demo or none.</summary>
    string Name { get; }

    /// <summary>Deployment or model name reported in meta and /api/health.</summary>
    string Model { get; }

    /// <summary>False when nothing is configured and the demo is switched off: chat answers 503.</summary>
    bool IsAvailable { get; }

    IChatClient Client { get; }
}

public sealed class ChatModelProvider(string name, string model, IChatClient? client) : IChatModelProvider
{
    public const string AzureOpenAIName = "azure-openai";
    public const string OpenAICompatibleName = "openai-compatible";
    public const string DemoName = "demo";
    public const string NoneName = "none";

    public string Name { get; } = name;

    public string Model { get; } = model;

    public bool IsAvailable => client is not null;

    public IChatClient Client => client ?? throw new InvalidOperationException("No chat model is configured.");
}
