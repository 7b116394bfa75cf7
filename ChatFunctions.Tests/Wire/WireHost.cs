using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json.Nodes;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// The fake Azure OpenAI server and the real app pointed at it through the real Azure.AI.OpenAI client,
/// with every log entry captured. Each test starts and disposes its own.
/// </summary>
public sealed class WireHost : IAsyncDisposable
{
    public const string Deployment = "chat-test";
    public const string ApiKey = "test-key";
    public const string SystemPrompt = "You are the wire-test assistant. Be brief.";

    private WireHost(FakeAzureOpenAIServer fake, AppServer app, CapturedLogs logs)
    {
        Fake = fake;
        App = app;
        Logs = logs;
    }

    public FakeAzureOpenAIServer Fake { get; }

    public AppServer App { get; }

    public CapturedLogs Logs { get; }

    /// <summary>Overall bound for one test's network work: generous, so a noisy machine never flakes.</summary>
    public static CancellationTokenSource Timeout() => new(TimeSpan.FromSeconds(30));

    /// <summary>The app on the given CHAT_API (chatCompletions or responses), with <paramref name="settings"/> added.</summary>
    public static Task<WireHost> StartAsync(string api, IReadOnlyDictionary<string, string?>? settings = null) =>
        StartAsync(new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["CHAT_API"] = api });

    /// <summary>Both values of CHAT_API, for tests that hold for either API.</summary>
    public static TheoryData<string> Apis() => new("chatCompletions", "responses");

    /// <param name="settings">Added to (and overriding) the Azure OpenAI settings; a null value removes a setting.</param>
    public static async Task<WireHost> StartAsync(
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null,
        Action<FakeAzureOpenAIServer>? configureFake = null)
    {
        var fake = await FakeAzureOpenAIServer.StartAsync();
        try
        {
            configureFake?.Invoke(fake);
            var merged = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
            {
                ["CHAT_PROVIDER"] = "AzureOpenAI",
                ["AZURE_OPENAI_ENDPOINT"] = fake.Endpoint.ToString(),
                ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = Deployment,
                ["AZURE_OPENAI_API_KEY"] = ApiKey,
                ["CHAT_SYSTEM_PROMPT"] = SystemPrompt,
                ["CHAT_MAX_OUTPUT_TOKENS"] = "321",
            };
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                merged[key] = value;
            }

            var logs = new CapturedLogs();
            var app = await AppServer.StartAsync(
                merged.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.OrdinalIgnoreCase),
                services =>
                {
                    logs.Register(services);
                    configureServices?.Invoke(services);
                });
            return new WireHost(fake, app, logs);
        }
        catch
        {
            await fake.DisposeAsync();
            throw;
        }
    }

    public Task<List<ReceivedFrame>> StreamAsync(string message, object? history, CancellationToken cancellationToken) =>
        SseClient.ReadAllAsync(App.Client, SseClient.Post(message, history), cancellationToken);

    /// <summary>How long a wait for an abort may last before the test fails: it ends a test that would hang and times
    /// nothing (a test that times the abort measures it from the fake's own timestamp). On two loaded cores the thread
    /// pool was seen to take over 15 s to run a continuation.</summary>
    public static readonly TimeSpan AbortHangBound = TimeSpan.FromSeconds(60);

    /// <summary>Waits for the fake to see its request <paramref name="request"/> aborted by the app. A failure says
    /// whether the app's end of the connection was still open then (the app kept the model call) or already gone
    /// (the fake had yet to notice).</summary>
    public static async Task<long> WaitForAbortAsync(RecordedRequest request, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        while (request.AbortedTimestamp is null)
        {
            if (stopwatch.Elapsed >= timeout)
            {
                Assert.Fail($"the fake server did not see its request aborted within {timeout.TotalSeconds} s; the app's end of that connection is {AppSideStateOf(request)}");
            }

            await Task.Delay(Poll.StateInterval);
        }

        return request.AbortedTimestamp.Value;
    }

    /// <summary>The states of the app's end of <paramref name="request"/>'s connection in this machine's socket table
    /// (none once it is gone).</summary>
    public static List<TcpState> AppSideStates(RecordedRequest request) => [.. IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpConnections()
        .Where(c => c.LocalEndPoint.Port == request.ClientPort && c.RemoteEndPoint.Port == request.ServerPort)
        .Select(c => c.State)];

    /// <summary>Whether the app's end of <paramref name="request"/>'s connection is still open (or opening).</summary>
    public static bool IsAppSideOpen(RecordedRequest request) =>
        AppSideStates(request).Any(state => state is TcpState.Established or TcpState.CloseWait or TcpState.SynSent);

    private static string AppSideStateOf(RecordedRequest request) => AppSideStates(request) is { Count: > 0 } states
        ? $"{string.Join(", ", states)} (port {request.ClientPort})"
        : $"gone (port {request.ClientPort})";

    /// <summary>Parses a raw SSE body with SseParser, the way <see cref="SseClient"/> reads a live stream.</summary>
    public static List<ReceivedFrame> ParseFrames(string rawBody)
    {
        var parser = SseParser.Create(new MemoryStream(Encoding.UTF8.GetBytes(rawBody)));
        var frames = new List<ReceivedFrame>();
        foreach (var item in parser.Enumerate())
        {
            frames.Add(new ReceivedFrame(parser.LastEventId, item.EventType, JsonNode.Parse(item.Data)!.AsObject(), 0));
        }

        return frames;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

/// <summary>Assertions on single frames, shared by the wire tests.</summary>
public static class FrameAssert
{
    public static void Meta(ReceivedFrame frame)
    {
        Assert.True(frame.IsMeta, $"expected meta, got {frame.Data.ToJsonString()}");
        var meta = frame.Data["meta"]!.AsObject();
        Assert.Equal("azure-openai", meta["provider"]!.GetValue<string>());
        Assert.Equal(WireHost.Deployment, meta["model"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(meta["requestId"]!.GetValue<string>()));
    }

    /// <summary>The model accepted the request and has sent no text yet.</summary>
    public static void Thinking(ReceivedFrame frame)
    {
        Assert.True(frame.IsThinking, $"expected thinking, got {frame.Data.ToJsonString()}");
        // The model's acceptance is an HTTP round trip away, even on loopback: some time passed, and it was measured.
        var timeToFirstByteMs = frame.Data["thinking"]!["timeToFirstByteMs"]!.GetValue<double>();
        Assert.True(timeToFirstByteMs > 0, $"thinking after {timeToFirstByteMs} ms");
    }

    public static void Chunks(IEnumerable<ReceivedFrame> frames, params string[] expected)
    {
        var list = frames.ToList();
        Assert.All(list, f => Assert.True(f.IsChunk, $"expected a chunk, got {f.Data.ToJsonString()}"));
        Assert.Equal(expected, list.Select(f => f.Chunk));
    }

    public static JsonObject Error(ReceivedFrame frame, string code, bool retryable)
    {
        Assert.True(frame.IsError, $"expected error, got {frame.Data.ToJsonString()}");
        var error = frame.Data["error"]!.AsObject();
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.Equal(retryable, error["retryable"]!.GetValue<bool>());
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        return error;
    }

    /// <summary>A well-formed stream that failed before its first chunk: meta, the error, done "error". Returns the error.</summary>
    public static JsonObject FailedBeforeAnyChunk(List<ReceivedFrame> frames, string code, bool retryable)
    {
        SseClient.AssertWellFormed(frames);
        Assert.Equal(3, frames.Count);
        Meta(frames[0]);
        var error = Error(frames[1], code, retryable);
        Done(frames[2], "error");
        return error;
    }

    public static JsonObject Done(ReceivedFrame frame, string finishReason)
    {
        Assert.True(frame.IsDone, $"expected done, got {frame.Data.ToJsonString()}");
        Assert.True(frame.Data["done"]!.GetValue<bool>());
        Assert.Equal(finishReason, frame.Data["finishReason"]!.GetValue<string>());
        return frame.Data;
    }
}
