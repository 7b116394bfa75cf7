using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.AI.OpenAI;
using Azure.Core;
using Azure.Identity;
using ChatFunctions.Configuration;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenAI;

namespace ChatFunctions.Models;

/// <summary>Chooses and builds the model client from configuration; the only place that knows the SDKs.</summary>
public static class ChatModelProviderFactory
{
    public static IChatModelProvider Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var chat = services.GetRequiredService<IOptions<ChatServiceOptions>>().Value;
        var azure = services.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value;
        var compatible = services.GetRequiredService<IOptions<OpenAICompatibleOptions>>().Value;

        var kind = ResolveKind(chat, azure, compatible);
        return kind switch
        {
            ChatProviderKind.AzureOpenAI => new ChatModelProvider(ChatModelProvider.AzureOpenAIName, azure.ChatDeployment!,
                Wrap(CreateAzureOpenAI(azure, services.GetRequiredService<UpstreamHttpClient>().Client, services.GetRequiredService<TokenCredential>), services)),
            ChatProviderKind.OpenAICompatible => new ChatModelProvider(ChatModelProvider.OpenAICompatibleName, compatible.Model!,
                Wrap(CreateOpenAICompatible(compatible, services.GetRequiredService<UpstreamHttpClient>().Client), services)),
            ChatProviderKind.Demo => new ChatModelProvider(ChatModelProvider.DemoName, DemoChatClient.ModelName,
                Wrap(ActivatorUtilities.CreateInstance<DemoChatClient>(services), services)),
            _ => new ChatModelProvider(ChatModelProvider.NoneName, string.Empty, null),
        };
    }

    /// <summary>Auto picks Azure OpenAI, then an OpenAI-compatible endpoint, then the demo (unless switched off).</summary>
    public static ChatProviderKind ResolveKind(ChatServiceOptions chat, AzureOpenAIOptions azure, OpenAICompatibleOptions compatible)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(azure);
        ArgumentNullException.ThrowIfNull(compatible);
        return chat.Provider switch
        {
            ChatProviderKind.Auto when azure.IsConfigured => ChatProviderKind.AzureOpenAI,
            ChatProviderKind.Auto when compatible.IsConfigured => ChatProviderKind.OpenAICompatible,
            ChatProviderKind.Auto when chat.DemoEnabled => ChatProviderKind.Demo,
            ChatProviderKind.Auto => ChatProviderKind.Auto,
            var explicitKind => explicitKind,
        };
    }

    internal static IChatClient CreateAzureOpenAI(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential)
    {
        var clientOptions = new AzureOpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(httpClient),
            // Retries happen in ChatStreamer, only before the first token and within a budget: the SDK's own
            // policy would wait out a retry-after of any length.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };

        var client = string.IsNullOrEmpty(options.ApiKey)
            ? new AzureOpenAIClient(options.Endpoint!, credential(), clientOptions)
            : new AzureOpenAIClient(options.Endpoint!, new ApiKeyCredential(options.ApiKey), clientOptions);
        return client.GetChatClient(options.ChatDeployment!).AsIChatClient();
    }

    /// <summary>Keyless: managed identity in Azure (the user-assigned one when AZURE_CLIENT_ID is set), developer credentials locally.</summary>
    public static TokenCredential CreateCredential(AzureOpenAIOptions options) =>
        new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = string.IsNullOrEmpty(options.ClientId) ? null : options.ClientId,
        });

    internal static IChatClient CreateOpenAICompatible(OpenAICompatibleOptions options, HttpClient httpClient)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = options.BaseUrl,
            Transport = new HttpClientPipelineTransport(httpClient),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };

        // Local servers (Ollama, LM Studio) ignore the key but the SDK requires one.
        var key = string.IsNullOrEmpty(options.ApiKey) ? "not-needed" : options.ApiKey;
        return new OpenAIClient(new ApiKeyCredential(key), clientOptions).GetChatClient(options.Model!).AsIChatClient();
    }

    private static IChatClient Wrap(IChatClient sdkClient, IServiceProvider services)
    {
        var inner = new SdkBoundaryChatClient(sdkClient);
        var configure = services.GetService<IChatClientPipeline>();
        return configure is null ? inner : configure.Build(inner, services);
    }
}

/// <summary>Cross-cutting middleware around the model client (telemetry), from Microsoft.Extensions.AI.</summary>
public interface IChatClientPipeline
{
    IChatClient Build(IChatClient inner, IServiceProvider services);
}

/// <summary>The one HttpClient for model calls, with the no-drain handler; owned by DI.</summary>
public sealed class UpstreamHttpClient : IDisposable
{
    public HttpClient Client { get; } = UpstreamTransport.CreateHttpClient();

    public void Dispose() => Client.Dispose();
}
