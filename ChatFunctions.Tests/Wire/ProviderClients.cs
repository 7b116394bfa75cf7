using Azure.Core;
using ChatFunctions.Configuration;
using ChatFunctions.Models;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Wire;

/// <summary>The two providers that talk to a chat completions server, built by the app's factory against the fake.</summary>
public enum UpstreamProvider
{
    AzureOpenAI,
    OpenAICompatible,
}

/// <summary>
/// The model clients exactly as <see cref="ChatModelProviderFactory"/> builds them (protocol client, or the SDK's own
/// adapter as the reference), pointed at <see cref="FakeAzureOpenAIServer"/>, without the app around them.
/// </summary>
public sealed class ProviderClients : IDisposable
{
    public const string Deployment = "chat-test";
    public const string CompatibleModel = "llama3.2";
    public const string ApiKey = "test-key";

    private readonly HttpClient _http = UpstreamTransport.CreateHttpClient();

    public ProviderClients(FakeAzureOpenAIServer fake) => Fake = fake;

    public FakeAzureOpenAIServer Fake { get; }

    /// <summary>What the app uses: <see cref="OpenAIProtocolChatClient"/>.</summary>
    public IChatClient Protocol(UpstreamProvider provider, TokenCredential? credential = null, string? reasoningEffort = null) => provider switch
    {
        UpstreamProvider.AzureOpenAI => ChatModelProviderFactory.CreateAzureOpenAI(AzureOptions(credential), _http, () => credential!, reasoningEffort),
        _ => ChatModelProviderFactory.CreateOpenAICompatible(CompatibleOptions(), _http),
    };

    /// <summary>The SDK's adapter (Microsoft.Extensions.AI.OpenAI) behind the same error boundary: the reference.</summary>
    public IChatClient SdkAdapter(UpstreamProvider provider, TokenCredential? credential = null, string? reasoningEffort = null) => provider switch
    {
        UpstreamProvider.AzureOpenAI => ChatModelProviderFactory.CreateAzureOpenAISdkAdapter(AzureOptions(credential), _http, () => credential!, reasoningEffort),
        _ => ChatModelProviderFactory.CreateOpenAICompatibleSdkAdapter(CompatibleOptions(), _http),
    };

    /// <summary>What the app uses with CHAT_API=responses: <see cref="ResponsesProtocolChatClient"/>.</summary>
    public IChatClient Responses(TokenCredential? credential = null, string? reasoningEffort = null) =>
        AzureOpenAIResponses.Create(AzureOptions(credential), _http, () => credential!, reasoningEffort);

    /// <summary>The SDK's own types for the Responses API (adapter, our ending rules, the error boundary): the reference.</summary>
    public IChatClient ResponsesSdkAdapter(TokenCredential? credential = null, string? reasoningEffort = null) =>
        AzureOpenAIResponses.CreateSdkAdapter(AzureOptions(credential), _http, () => credential!, reasoningEffort);

    public static IList<ChatMessage> Messages(string message = "hello") =>
    [
        new(ChatRole.System, "Be brief."),
        new(ChatRole.User, "first question"),
        new(ChatRole.Assistant, "first answer"),
        new(ChatRole.User, message),
    ];

    public static ChatOptions Options() => new() { MaxOutputTokens = 321, Temperature = 0.25f };

    /// <summary>Every update until the stream ends, and the exception it ended with, if any.</summary>
    public static Task<(List<ChatResponseUpdate> Updates, Exception? Error)> ReadAsync(IChatClient client, CancellationToken cancellationToken = default) =>
        ReadAsync(client, onUpdate: null, cancellationToken);

    /// <summary>The same, telling <paramref name="onUpdate"/> of each update as it arrives.</summary>
    public static async Task<(List<ChatResponseUpdate> Updates, Exception? Error)> ReadAsync(
        IChatClient client, Action<IReadOnlyList<ChatResponseUpdate>>? onUpdate, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync(Messages(), Options(), cancellationToken))
            {
                updates.Add(update);
                onUpdate?.Invoke(updates);
            }

            return (updates, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return (updates, ex);
        }
    }

    public static string Text(IEnumerable<ChatResponseUpdate> updates) => string.Concat(updates.Select(u => u.Text));

    private AzureOpenAIOptions AzureOptions(TokenCredential? credential) => new()
    {
        Endpoint = Fake.Endpoint,
        ChatDeployment = Deployment,
        ApiKey = credential is null ? ApiKey : null,
    };

    private OpenAICompatibleOptions CompatibleOptions() => new()
    {
        BaseUrl = new Uri(Fake.Endpoint, "v1"),
        Model = CompatibleModel,
        ApiKey = ApiKey,
    };

    public void Dispose() => _http.Dispose();
}
