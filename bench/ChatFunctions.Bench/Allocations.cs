using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using Azure.AI.OpenAI;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Models;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;
using FakeAzureOpenAI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Bench;

public sealed record AllocationRow(string Path, double BytesPerToken, double CpuMicrosecondsPerToken, int Tokens);

/// <summary>
/// Allocations on the hot path, in this process with nothing else running: the relay loop (ChatStreamer +
/// LiveReply log delivered into a Pipe) fed by a fake IChatClient, the real Azure OpenAI SDK parsing a recorded stream of the
/// fake server's bytes, and both together (what the app does per token, less Kestrel's socket writes).
/// </summary>
public static class Allocations
{
    public static async Task<IReadOnlyList<AllocationRow>> RunAsync(int tokens, CancellationToken cancellationToken = default)
    {
        var recorded = await RecordFakeStreamAsync(tokens, cancellationToken);
        var updates = Enumerable.Range(0, tokens).Select(i => new ChatResponseUpdate(ChatRole.Assistant, $"t{i} ")).ToArray();
        var rows = new List<AllocationRow>();
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var sdk = CreateSdkClient(recorded);
        var telemetry = new ChatClientTelemetry();
        Func<IChatClient, IChatClient> meai = static inner => WithMeaiMiddleware(inner);

        var protocol = CreateProtocolClient(recorded);
        var recordedResponses = await RecordFakeResponsesStreamAsync(tokens, cancellationToken);
        var responsesSdk = CreateResponsesSdkAdapter(recordedResponses);
        var responses = CreateResponsesClient(recordedResponses);
        rows.Add(await MeasureAsync("SDK: Azure OpenAI SDK + M.E.AI adapter parsing the stream (no relay)", tokens, () => DrainAsync(sdk)));
        rows.Add(await MeasureAsync("Protocol client: SDK pipeline + SseParser/Utf8JsonReader parsing the stream (no relay)", tokens, () => DrainAsync(protocol)));
        rows.Add(await MeasureAsync("Responses API, SDK types: OpenAI ResponsesClient + M.E.AI adapter + our ending rules parsing the stream (no relay)", tokens,
            () => DrainAsync(responsesSdk)));
        rows.Add(await MeasureAsync("Responses API (CHAT_API=responses): SDK pipeline + SseParser/Utf8JsonReader parsing the stream (no relay)", tokens,
            () => DrainAsync(responses)));
        rows.Add(await MeasureAsync("Ours: ChatStreamer → StreamLog → StreamDelivery (fake IChatClient, no telemetry)", tokens,
            () => RelayAsync(new ListChatClient(updates), services)));
        rows.Add(await MeasureAsync("Ours + M.E.AI OpenTelemetry middleware, nobody listening", tokens,
            () => RelayAsync(meai(new ListChatClient(updates)), services)));
        rows.Add(await MeasureAsync("Ours + GenAiTelemetryChatClient, nobody listening", tokens,
            () => RelayAsync(telemetry.Build(new ListChatClient(updates), services), services)));
        using (Listen())
        {
            rows.Add(await MeasureAsync("Ours + M.E.AI OpenTelemetry middleware, exporter listening (traces + metrics)", tokens,
                () => RelayAsync(meai(new ListChatClient(updates)), services)));
            rows.Add(await MeasureAsync("Ours + GenAiTelemetryChatClient, exporter listening (traces + metrics)", tokens,
                () => RelayAsync(telemetry.Build(new ListChatClient(updates), services), services)));
        }

        rows.Add(await MeasureAsync("Whole path before: SDK adapter → telemetry → ChatStreamer → StreamLog → StreamDelivery (nobody listening)", tokens,
            () => RelayAsync(telemetry.Build(sdk, services), services)));
        rows.Add(await MeasureAsync("Whole path with M.E.AI's middleware: protocol client → M.E.AI OpenTelemetry → ChatStreamer → StreamLog → StreamDelivery (nobody listening)", tokens,
            () => RelayAsync(meai(protocol), services)));
        rows.Add(await MeasureAsync("Whole path as deployed: protocol client → GenAiTelemetryChatClient → ChatStreamer → StreamLog → StreamDelivery (nobody listening)", tokens,
            () => RelayAsync(telemetry.Build(protocol, services), services)));
        rows.Add(await MeasureAsync("Whole path with CHAT_API=responses: responses protocol client → GenAiTelemetryChatClient → ChatStreamer → StreamLog → StreamDelivery (nobody listening)", tokens,
            () => RelayAsync(telemetry.Build(responses, services), services)));
        return rows;
    }

    /// <summary>The fake server's bytes for one reply of <paramref name="tokens"/> tokens.</summary>
    internal static async Task<byte[]> RecordFakeStreamAsync(int tokens, CancellationToken cancellationToken)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(cancellationToken: cancellationToken);
        fake.DefaultScript = new FakeScript { Tokens = Enumerable.Range(0, tokens).Select(i => $"t{i} ").ToArray(), FilterChunkEvery = 10 };
        using var http = new HttpClient { BaseAddress = fake.Endpoint };
        using var content = new StringContent("""{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""", System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("openai/deployments/bench/chat/completions?api-version=2025-04-01-preview", content, cancellationToken);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>The fake server's Responses API events for one reply of <paramref name="tokens"/> tokens.</summary>
    internal static async Task<byte[]> RecordFakeResponsesStreamAsync(int tokens, CancellationToken cancellationToken)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync(cancellationToken: cancellationToken);
        fake.DefaultScript = new FakeScript { Tokens = Enumerable.Range(0, tokens).Select(i => $"t{i} ").ToArray() };
        using var http = new HttpClient { BaseAddress = fake.Endpoint };
        using var content = new StringContent("""{"model":"bench","input":[{"role":"user","content":"hi"}],"stream":true}""", System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("openai/v1/responses", content, cancellationToken);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>What the app deploys with CHAT_API=responses (AzureOpenAIResponses.Create), reading a recorded stream.</summary>
    internal static IChatClient CreateResponsesClient(byte[] recorded) =>
        AzureOpenAIResponses.Create(BenchResponsesOptions, new HttpClient(new RecordedStreamHandler(recorded)),
            static () => throw new InvalidOperationException("keyed"), reasoningEffort: null);

    /// <summary>The SDK's own types for the Responses API (the reference), reading a recorded stream.</summary>
    internal static IChatClient CreateResponsesSdkAdapter(byte[] recorded) =>
        AzureOpenAIResponses.CreateSdkAdapter(BenchResponsesOptions, new HttpClient(new RecordedStreamHandler(recorded)),
            static () => throw new InvalidOperationException("keyed"), reasoningEffort: null);

    private static AzureOpenAIOptions BenchResponsesOptions => new() { Endpoint = new Uri("http://127.0.0.1:9/"), ChatDeployment = "bench", ApiKey = "bench-key" };

    /// <summary>Microsoft.Extensions.AI's OpenTelemetry middleware as the app wired it before GenAiTelemetryChatClient.</summary>
    internal static IChatClient WithMeaiMiddleware(IChatClient inner) =>
        inner.AsBuilder()
            .UseOpenTelemetry(loggerFactory: NullLoggerFactory.Instance, sourceName: ChatClientTelemetry.SourceName, configure: static c => c.EnableSensitiveData = false)
            .Build();

    private static async Task<AllocationRow> MeasureAsync(string path, int tokens, Func<Task> run)
    {
        // Warm up (JIT, tiering to optimized code), then measure the best of three.
        for (var i = 0; i < 8; i++)
        {
            await run();
        }

        var best = double.MaxValue;
        var bestCpu = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var before = GC.GetTotalAllocatedBytes(precise: true);
            await run();
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            best = Math.Min(best, (double)allocated / tokens);
            bestCpu = Math.Min(bestCpu, cpuUsed.TotalMicroseconds / tokens);
        }

        return new AllocationRow(path, best, bestCpu, tokens);
    }

    private static async Task DrainAsync(IChatClient client)
    {
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")]))
        {
            _ = update;
        }
    }

    private static async Task RelayAsync(IChatClient client, IServiceProvider services)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
        var reader = Task.Run(async () =>
        {
            while (true)
            {
                var read = await pipe.Reader.ReadAsync();
                pipe.Reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            await pipe.Reader.CompleteAsync();
        });
        var provider = new ChatModelProvider("bench", "bench", client);
        var streamer = new ChatStreamer(provider, Options.Create(new ChatServiceOptions()), TimeProvider.System,
            new ChatStreamMetrics(services.GetRequiredService<IMeterFactory>()), NullLogger<ChatStreamer>.Instance);
        // The producer writes frames into the stream's log; the delivery copies them into the client's pipe.
        using var reply = new LiveReply(StreamId.New(), "bench", ownerKey: null);
        using var source = new LiveLogSource(reply.Log, 0);
        var delivery = new StreamDelivery(TimeProvider.System, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30), static () => { });
        var delivering = delivery.RunAsync(source, pipe.Writer, CancellationToken.None);
        await streamer.ProduceAsync(reply, new ChatRequest("hi", []), static _ => Task.CompletedTask, CancellationToken.None);
        await delivering;

        await pipe.Writer.CompleteAsync();
        await reader;
    }

    private static IChatClient CreateSdkClient(byte[] recorded)
    {
        var http = new HttpClient(new RecordedStreamHandler(recorded));
        var options = new AzureOpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        return new AzureOpenAIClient(new Uri("http://127.0.0.1:9/"), new ApiKeyCredential("bench-key"), options)
            .GetChatClient("bench").AsIChatClient();
    }

    /// <summary>What the app deploys for Azure OpenAI (ChatModelProviderFactory): the protocol client over the SDK's pipeline.</summary>
    internal static IChatClient CreateProtocolClient(byte[] recorded)
    {
        var http = new HttpClient(new RecordedStreamHandler(recorded));
        var options = new AzureOpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        var sdkClient = new AzureOpenAIClient(new Uri("http://127.0.0.1:9/"), new ApiKeyCredential("bench-key"), options).GetChatClient("bench");
        return new OpenAIProtocolChatClient(sdkClient, "bench", new ChatClientMetadata("openai", new Uri("http://127.0.0.1:9/"), "bench"));
    }

    /// <summary>What an exporter does: enables every instrument and samples every span of the GenAI middleware and our meter.</summary>
    internal static IDisposable Listen()
    {
        var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name is ChatClientTelemetry.SourceName or ChatStreamMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        meters.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        meters.SetMeasurementEventCallback<int>(static (_, _, _, _) => { });
        meters.Start();
        var spans = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ChatClientTelemetry.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(spans);
        return new Both(meters, spans);
    }

    private sealed class Both(IDisposable a, IDisposable b) : IDisposable
    {
        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    /// <summary>Answers every request with the recorded event stream, from memory.</summary>
    private sealed class RecordedStreamHandler(byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new MemoryStream(body, writable: false)), RequestMessage = request };
            response.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream");
            return Task.FromResult(response);
        }
    }

    /// <summary>Yields prepared updates, then a usage update; allocates nothing per token of its own.</summary>
    private sealed class ListChatClient(ChatResponseUpdate[] updates) : IChatClient
    {
        private static readonly ChatResponseUpdate Usage = new()
        {
            Role = ChatRole.Assistant,
            FinishReason = ChatFinishReason.Stop,
            Contents = [new UsageContent(new UsageDetails { InputTokenCount = 10, OutputTokenCount = 10, TotalTokenCount = 20 })],
        };

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < updates.Length; i++)
            {
                if (i % 64 == 63)
                {
                    await Task.Yield();
                }

                yield return updates[i];
            }

            yield return Usage;
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
