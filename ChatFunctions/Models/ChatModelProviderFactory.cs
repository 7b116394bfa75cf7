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
using OpenAI.Chat;

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
                WithPipeline(chat.Api == ChatApis.Responses
                    ? AzureOpenAIResponses.Create(azure, services.GetRequiredService<UpstreamHttpClient>().Client, services.GetRequiredService<TokenCredential>, chat.ReasoningEffort)
                    : CreateAzureOpenAI(azure, services.GetRequiredService<UpstreamHttpClient>().Client, services.GetRequiredService<TokenCredential>, chat.ReasoningEffort), services)),
            ChatProviderKind.OpenAICompatible => new ChatModelProvider(ChatModelProvider.OpenAICompatibleName, compatible.Model!,
                WithPipeline(CreateOpenAICompatible(compatible, services.GetRequiredService<UpstreamHttpClient>().Client), services)),
            ChatProviderKind.Demo => new ChatModelProvider(ChatModelProvider.DemoName, DemoChatClient.ModelName,
                WithPipeline(new SdkBoundaryChatClient(ActivatorUtilities.CreateInstance<DemoChatClient>(services)), services)),
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

    /// <summary>Azure OpenAI through <see cref="OpenAIProtocolChatClient"/>: the SDK's pipeline, our parse of the stream.</summary>
    /// <param name="reasoningEffort">CHAT_REASONING_EFFORT: sent to Azure OpenAI only (the provider-level rule), when set.</param>
    internal static IChatClient CreateAzureOpenAI(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential, string? reasoningEffort = null) =>
        Protocol(CreateAzureOpenAISdkClient(options, httpClient, credential), options.ChatDeployment!, reasoningEffort);

    /// <summary>The SDK's own IChatClient adapter (Microsoft.Extensions.AI.OpenAI) for Azure OpenAI: the reference the protocol client is tested and measured against.</summary>
    internal static IChatClient CreateAzureOpenAISdkAdapter(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential, string? reasoningEffort = null)
    {
        var adapter = CreateAzureOpenAISdkClient(options, httpClient, credential).AsIChatClient();
        if (!string.IsNullOrEmpty(reasoningEffort))
        {
            // The SDK's own option, not ChatOptions.Reasoning: Microsoft.Extensions.AI's effort levels have no "minimal".
            // It is marked for evaluation (OPENAI001); only this reference path uses it, the app writes the field itself.
#pragma warning disable OPENAI001
            adapter = adapter.AsBuilder()
                .ConfigureOptions(o => o.RawRepresentationFactory = _ => new ChatCompletionOptions { ReasoningEffortLevel = new ChatReasoningEffortLevel(reasoningEffort) })
                .Build();
#pragma warning restore OPENAI001
        }

        return new SdkBoundaryChatClient(adapter);
    }

    private static ChatClient CreateAzureOpenAISdkClient(AzureOpenAIOptions options, HttpClient httpClient, Func<TokenCredential> credential)
    {
        var clientOptions = new AzureOpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(httpClient),
            // Retries happen in ChatStreamer, only before the first token and within a budget: the SDK's own
            // policy would wait out a retry-after of any length.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // ChatStreamer's idle timeout bounds the wait for the headers and every gap between updates. The SDK's
            // own (100 s) would wrap the body in a stream that re-arms a timer on every read.
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };

        var client = string.IsNullOrEmpty(options.ApiKey)
            ? new AzureOpenAIClient(options.Endpoint!, credential(), clientOptions)
            : new AzureOpenAIClient(options.Endpoint!, new ApiKeyCredential(options.ApiKey), clientOptions);
        return client.GetChatClient(options.ChatDeployment!);
    }

    /// <summary>Keyless: managed identity in Azure (the user-assigned one when AZURE_CLIENT_ID is set), developer credentials locally.</summary>
    public static TokenCredential CreateCredential(AzureOpenAIOptions options) =>
        new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = string.IsNullOrEmpty(options.ClientId) ? null : options.ClientId,
        });

    /// <summary>An OpenAI-compatible server through <see cref="OpenAIProtocolChatClient"/>, with the same truthful endings as Azure.</summary>
    internal static IChatClient CreateOpenAICompatible(OpenAICompatibleOptions options, HttpClient httpClient) =>
        Protocol(CreateOpenAICompatibleSdkClient(options, httpClient), options.Model!);

    /// <summary>The SDK's own IChatClient adapter for an OpenAI-compatible server (reference for tests and the benchmark).</summary>
    internal static IChatClient CreateOpenAICompatibleSdkAdapter(OpenAICompatibleOptions options, HttpClient httpClient) =>
        new SdkBoundaryChatClient(CreateOpenAICompatibleSdkClient(options, httpClient).AsIChatClient());

    private static ChatClient CreateOpenAICompatibleSdkClient(OpenAICompatibleOptions options, HttpClient httpClient)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = options.BaseUrl,
            Transport = new HttpClientPipelineTransport(httpClient),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };

        // Local servers (Ollama, LM Studio) ignore the key but the SDK requires one.
        var key = string.IsNullOrEmpty(options.ApiKey) ? "not-needed" : options.ApiKey;
        return new OpenAIClient(new ApiKeyCredential(key), clientOptions).GetChatClient(options.Model!);
    }

    /// <summary>
    /// The protocol client reports the SDK adapter's own metadata (provider name, endpoint, model), so the telemetry
    /// middleware's spans and metrics keep the attributes they had.
    /// </summary>
    private static OpenAIProtocolChatClient Protocol(ChatClient sdkClient, string model, string? reasoningEffort = null)
    {
        using var adapter = sdkClient.AsIChatClient();
        var metadata = adapter.GetService<ChatClientMetadata>() ?? new ChatClientMetadata("openai", defaultModelId: model);
        return new OpenAIProtocolChatClient(sdkClient, model, metadata, reasoningEffort);
    }

    private static IChatClient WithPipeline(IChatClient inner, IServiceProvider services)
    {
        var configure = services.GetService<IChatClientPipeline>();
        return configure is null ? inner : configure.Build(inner, services);
    }
}
