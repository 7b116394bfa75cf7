using System.Diagnostics;
using System.Net.ServerSentEvents;
using Azure.Core;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Streaming;

/// <summary>
/// Prepares the first reply's path to the model while the host is still starting, on another core: builds the model
/// client, runs the chunk parser and the frame writer once, fetches the Entra ID token (Azure OpenAI without a key)
/// and opens the connection to the model with a HEAD to its endpoint, which carries no credentials. The first reply
/// after a scale from zero then finds them ready instead of paying for them before its first token.
/// </summary>
/// <remarks>
/// Nothing waits for it: the host starts and requests are served whether or not it has finished, and whatever the warm-up has not done
/// yet, or failed to do, the first request does itself.
/// </remarks>
public sealed class ModelWarmUp(
    IServiceProvider services,
    IOptions<ChatServiceOptions> chat,
    IOptions<AzureOpenAIOptions> azure,
    IOptions<OpenAICompatibleOptions> compatible,
    ILogger<ModelWarmUp> logger) : IHostedLifecycleService, IDisposable
{
    /// <summary>The scope Azure.AI.OpenAI asks tokens for: a token fetched for it here is the one its first request uses.</summary>
    internal const string AzureOpenAIScope = "https://cognitiveservices.azure.com/.default";

    private static ReadOnlySpan<byte> SampleChunk =>
        """{"id":"w","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"w"},"finish_reason":null}]}"""u8;

    /// <summary>The model's HttpClient has no timeout of its own (ChatStreamer bounds each wait): the warm-up's own.</summary>
    private static readonly TimeSpan ConnectionDeadline = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Completes when the warm-up has done all it could (tests wait on it; nothing else does).</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Whether the warm-up reached the model: its token fetched (keyless Azure OpenAI) and its endpoint
    /// answered. The demo model needs neither.</summary>
    public bool Reached => Volatile.Read(ref _reached);

    private bool _reached;

    /// <summary>Before any hosted service starts (Kestrel, the Functions worker's gRPC client): the most overlap.</summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        Completion = Task.Run(() => WarmUpAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => _stopping.CancelAsync();

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var kind = ChatModelProviderFactory.ResolveKind(chat.Value, azure.Value, compatible.Value);
        var endpoint = kind switch
        {
            ChatProviderKind.AzureOpenAI => azure.Value.Endpoint,
            ChatProviderKind.OpenAICompatible => compatible.Value.BaseUrl,
            _ => null,
        };
        if (endpoint is null)
        {
            Volatile.Write(ref _reached, services.GetRequiredService<IChatModelProvider>().IsAvailable);
            return;
        }

        try
        {
            if (!services.GetRequiredService<IChatModelProvider>().IsAvailable)
            {
                return;
            }

            await RunTheHotPathOnceAsync(cancellationToken);
            await ReachAsync(kind, endpoint, cancellationToken);
            Volatile.Write(ref _reached, true);
            Log.ModelWarmedUp(logger, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.ModelWarmUpFailed(logger, ex.GetType().Name);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    /// <summary>Reaches the model as the warm-up does (its token, a HEAD to its endpoint), for a readiness check: null
    /// when it answered, else what failed (an exception's type, never its message).</summary>
    public async Task<string?> ProbeAsync(CancellationToken cancellationToken)
    {
        var kind = ChatModelProviderFactory.ResolveKind(chat.Value, azure.Value, compatible.Value);
        var endpoint = kind switch
        {
            ChatProviderKind.AzureOpenAI => azure.Value.Endpoint,
            ChatProviderKind.OpenAICompatible => compatible.Value.BaseUrl,
            _ => null,
        };
        if (endpoint is null)
        {
            return null;
        }

        try
        {
            await ReachAsync(kind, endpoint, cancellationToken);
            Volatile.Write(ref _reached, true);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return ex.GetType().Name;
        }
    }

    private Task ReachAsync(ChatProviderKind kind, Uri endpoint, CancellationToken cancellationToken)
    {
        var token = kind == ChatProviderKind.AzureOpenAI && string.IsNullOrEmpty(azure.Value.ApiKey)
            ? services.GetRequiredService<TokenCredential>().GetTokenAsync(new TokenRequestContext([AzureOpenAIScope]), cancellationToken).AsTask()
            : Task.CompletedTask;
        return Task.WhenAll(token, OpenConnectionAsync(endpoint, cancellationToken));
    }

    /// <summary>A HEAD to the model's endpoint through the model's own HttpClient: any answer will do (Azure OpenAI's
    /// root answers 404), the connection with its TLS session and HTTP/2 is what stays in the pool.</summary>
    private async Task OpenConnectionAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ConnectionDeadline);
        using var request = new HttpRequestMessage(HttpMethod.Head, endpoint);
        using var response = await services.GetRequiredService<UpstreamHttpClient>().Client.SendAsync(request, deadline.Token);
    }

    /// <summary>
    /// What the first token needs, once, on sample data and with no effect outside this method: the model's event
    /// stream parsed and a frame written. Compiled now rather than in front of the first token.
    /// </summary>
    private static async Task RunTheHotPathOnceAsync(CancellationToken cancellationToken)
    {
        var parser = new ChatCompletionChunkParser();
        using var body = new MemoryStream([.. "data: "u8, .. SampleChunk, .. "\n\ndata: [DONE]\n\n"u8]);
        await foreach (var _ in SseParser.Create(body, parser.Parse).EnumerateAsync(cancellationToken))
        {
        }

        var log = new StreamLog();
        using var frames = new SseFrameWriter(log, "warm-up");
        frames.WriteChunk("w");
        log.Publish();
    }
}
