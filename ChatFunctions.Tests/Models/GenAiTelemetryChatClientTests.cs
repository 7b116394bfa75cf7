using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using ChatFunctions.Models;
using ChatFunctions.Tests.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatFunctions.Tests.Models;

/// <summary>
/// <see cref="GenAiTelemetryChatClient"/> replaces Microsoft.Extensions.AI's OpenTelemetryChatClient (as the app
/// configured it: sensitive data off, our source name). The same scripted model calls go through both, and what
/// each emits is compared: every span (name, kind, status, attributes with their types, in order) and every metric
/// measurement (instrument, unit, description, bucket advice, value, attributes). Timings differ run to run: they
/// are checked present and non-negative, then compared as such.
/// </summary>
[Collection(RunsAloneTelemetry.Name)]
public sealed class GenAiTelemetryChatClientTests
{
    private const string Model = "gpt-test";
    private const string ResponseModel = "gpt-test-2026-01-01";

    public static TheoryData<string> Scenarios => new(ScenarioNames);

    private static readonly string[] ScenarioNames =
    [
        "stream completes: text, usage, finish reason",
        "stream with request options and model override",
        "stream fails mid-way",
        "stream cancelled mid-way",
        "consumer stops reading early",
        "stream fails before the first update",
        "inner client throws when asked for the stream",
        "stream of updates without model or usage",
        "non-streaming call completes",
        "non-streaming call with options",
        "non-streaming call fails",
    ];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Spans_and_metrics_match_Microsoft_Extensions_AI_OpenTelemetryChatClient(string scenario)
    {
        var theirs = await RecordAsync(scenario, static inner => inner.AsBuilder()
            .UseOpenTelemetry(loggerFactory: NullLoggerFactory.Instance, sourceName: ChatClientTelemetry.SourceName, configure: static c => c.EnableSensitiveData = false)
            .Build());
        var ours = await RecordAsync(scenario, static inner => new ChatClientTelemetry().Build(inner, new ServiceCollection().BuildServiceProvider()));

        Assert.IsType<GenAiTelemetryChatClient>(ours.Client);
        Assert.IsType<OpenTelemetryChatClient>(theirs.Client);
        Assert.NotEmpty(theirs.Spans);
        Assert.NotEmpty(theirs.Measurements);
        Assert.Equal(theirs.Outcome, ours.Outcome);
        Assert.Equal(theirs.CurrentSpanSeenByModel, ours.CurrentSpanSeenByModel);
        Assert.Equal(theirs.Spans, ours.Spans);
        Assert.Equal(theirs.Measurements, ours.Measurements);
        Assert.Equal(ChatClientTelemetry.SourceName, theirs.SpanSource);
        Assert.Equal(theirs.SpanSource, ours.SpanSource);
    }

    [Fact]
    public async Task The_scenarios_cover_what_the_span_and_metrics_record()
    {
        // Guards the equivalence test against comparing two empty recordings.
        var completed = await RecordAsync("stream completes: text, usage, finish reason", static inner => new GenAiTelemetryChatClient(inner, ChatClientTelemetry.SourceName));
        var span = Assert.Single(completed.Spans);
        Assert.Contains("name=chat gpt-test", span, StringComparison.Ordinal);
        Assert.Contains("kind=Client", span, StringComparison.Ordinal);
        foreach (var attribute in new[]
        {
            "gen_ai.operation.name=String:chat", "gen_ai.request.model=String:gpt-test", "gen_ai.provider.name=String:openai",
            "gen_ai.request.stream=Boolean:True", "server.address=String:models.example", "server.port=Int32:8443",
            "gen_ai.response.finish_reasons=String:[\"length\"]", "gen_ai.response.id=String:resp-2", "gen_ai.response.model=String:gpt-test-2026-01-01",
            "gen_ai.response.time_to_first_chunk=Double:(timing)", "gen_ai.usage.input_tokens=Int32:12", "gen_ai.usage.output_tokens=Int32:7",
            "gen_ai.usage.cache_read.input_tokens=Int32:4", "gen_ai.usage.reasoning.output_tokens=Int32:2",
        })
        {
            Assert.Contains(attribute, span, StringComparison.Ordinal);
        }

        Assert.Contains(completed.Measurements, m => m.StartsWith("gen_ai.client.token.usage", StringComparison.Ordinal) && m.Contains("value=12", StringComparison.Ordinal));
        Assert.Contains(completed.Measurements, m => m.StartsWith("gen_ai.client.operation.duration", StringComparison.Ordinal));
        Assert.Single(completed.Measurements, m => m.StartsWith("gen_ai.client.operation.time_to_first_chunk", StringComparison.Ordinal));
        Assert.Equal(5, completed.Measurements.Count(m => m.StartsWith("gen_ai.client.operation.time_per_output_chunk", StringComparison.Ordinal)));

        var failed = await RecordAsync("stream fails mid-way", static inner => new GenAiTelemetryChatClient(inner, ChatClientTelemetry.SourceName));
        Assert.Contains("status=Error:model went away", Assert.Single(failed.Spans), StringComparison.Ordinal);
        Assert.Contains("error.type=String:System.InvalidOperationException", Assert.Single(failed.Spans), StringComparison.Ordinal);
        Assert.Contains(failed.Measurements, m => m.Contains("error.type=System.InvalidOperationException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task No_update_is_kept_while_the_stream_is_open_where_Microsoft_Extensions_AI_keeps_them_all()
    {
        using var listening = Listen(new List<Activity>(), new List<string>());
        Assert.False(await IsUpdateAliveAfterMovingOnAsync(new GenAiTelemetryChatClient(new FreshUpdatesClient(), ChatClientTelemetry.SourceName)));
        Assert.True(await IsUpdateAliveAfterMovingOnAsync(new FreshUpdatesClient().AsBuilder()
            .UseOpenTelemetry(loggerFactory: NullLoggerFactory.Instance, sourceName: ChatClientTelemetry.SourceName, configure: static c => c.EnableSensitiveData = false)
            .Build()));

        // The harness itself keeps nothing: without any telemetry layer the update goes too.
        Assert.False(await IsUpdateAliveAfterMovingOnAsync(new FreshUpdatesClient()));
    }

    private static async Task<bool> IsUpdateAliveAfterMovingOnAsync(IChatClient client)
    {
        using (client)
        {
            var stream = client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")]).GetAsyncEnumerator();
            try
            {
                for (var i = 0; i < 3; i++)
                {
                    Assert.True(await stream.MoveNextAsync());
                }

                var third = WeakCurrent(stream);
                for (var i = 0; i < 3; i++)
                {
                    Assert.True(await stream.MoveNextAsync());
                }

                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                return third.IsAlive; // the stream is still open here
            }
            finally
            {
                await stream.DisposeAsync();
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference WeakCurrent(IAsyncEnumerator<ChatResponseUpdate> stream) => new(stream.Current);

    private static async Task<Recorded> RecordAsync(string scenario, Func<IChatClient, IChatClient> wrap)
    {
        var spans = new List<Activity>();
        var measurements = new List<string>();
        using var listening = Listen(spans, measurements);
        var inner = new ScriptedClient(scenario);
        using var client = wrap(inner);
        string outcome;
        using var cancellation = new CancellationTokenSource();
        try
        {
            outcome = await RunAsync(scenario, client, cancellation);
        }
        catch (Exception e)
        {
            outcome = "threw " + e.GetType().FullName + ": " + e.Message;
        }

        var source = client.GetService<ActivitySource>();
        return new Recorded(client, outcome, inner.CurrentSpanSeen, [.. spans.Select(Describe)], [.. measurements], source?.Name);
    }

    private static async Task<string> RunAsync(string scenario, IChatClient client, CancellationTokenSource cancellation)
    {
        ChatMessage[] messages = [new ChatMessage(ChatRole.System, "be brief"), new ChatMessage(ChatRole.User, "secret prompt")];
        var options = scenario.Contains("options", StringComparison.Ordinal) ? Options() : null;
        if (scenario.StartsWith("non-streaming", StringComparison.Ordinal))
        {
            var response = await client.GetResponseAsync(messages, options, cancellation.Token);
            return "response " + response.Text;
        }

        var read = 0;
        await foreach (var update in client.GetStreamingResponseAsync(messages, options, cancellation.Token))
        {
            read++;
            if (scenario == "stream cancelled mid-way" && read == 2)
            {
                await cancellation.CancelAsync();
            }

            if (scenario == "consumer stops reading early" && read == 2)
            {
                break;
            }
        }

        return "read " + read;
    }

    private static ChatOptions Options() => new()
    {
        ModelId = "gpt-override",
        ConversationId = "conv-1",
        FrequencyPenalty = 0.5f,
        PresencePenalty = 0.25f,
        MaxOutputTokens = 300,
        Seed = 42,
        StopSequences = ["END", "STOP"],
        Temperature = 0.7f,
        TopK = 5,
        TopP = 0.9f,
        ResponseFormat = ChatResponseFormat.Text,
    };

    /// <summary>A span, attribute by attribute in order with each value's type; timings as "(timing)" once checked.</summary>
    private static string Describe(Activity span)
    {
        var tags = span.TagObjects.Select(t =>
        {
            if (t.Key == "gen_ai.response.time_to_first_chunk")
            {
                Assert.True(t.Value is double seconds && seconds >= 0, $"{t.Key}={t.Value}");
                return $"{t.Key}=Double:(timing)";
            }

            return $"{t.Key}={t.Value?.GetType().Name}:{Convert.ToString(t.Value, CultureInfo.InvariantCulture)}";
        });
        Assert.Empty(span.Events);
        Assert.True(span.Duration > TimeSpan.Zero, $"the span lasted {span.Duration}: it was never timed");
        return $"source={span.Source.Name} name={span.DisplayName} kind={span.Kind} status={span.Status}:{span.StatusDescription} parent={span.ParentId is not null}\n"
            + string.Join("\n", tags);
    }

    private static Both Listen(List<Activity> spans, List<string> measurements)
    {
        var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ChatClientTelemetry.SourceName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => measurements.Add(Describe(i, v, t)));
        meters.SetMeasurementEventCallback<int>((i, v, t, _) => measurements.Add(Describe(i, v, t)));
        meters.SetMeasurementEventCallback<long>((i, v, t, _) => measurements.Add(Describe(i, v, t)));
        meters.Start();
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ChatClientTelemetry.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        return new Both(meters, listener);
    }

    private static string Describe<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        var advice = instrument switch
        {
            Histogram<double> h => string.Join(",", h.Advice?.HistogramBucketBoundaries ?? []),
            Histogram<int> h => string.Join(",", h.Advice?.HistogramBucketBoundaries ?? []),
            _ => "",
        };
        string shown;
        if (instrument.Unit == "s")
        {
            var seconds = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            Assert.True(seconds >= 0, $"{instrument.Name}={seconds}");
            shown = "(timing)";
        }
        else
        {
            shown = Convert.ToString(value, CultureInfo.InvariantCulture)!;
        }

        var attributes = string.Join(";", tags.ToArray().Select(t => $"{t.Key}={t.Value?.GetType().Name}:{Convert.ToString(t.Value, CultureInfo.InvariantCulture)}"));
        // Attribute names again without types for the simple Contains checks above.
        var plain = string.Join(";", tags.ToArray().Select(t => $"{t.Key}={Convert.ToString(t.Value, CultureInfo.InvariantCulture)}"));
        return $"{instrument.Name} <{typeof(T).Name}> unit={instrument.Unit} description={instrument.Description} buckets={advice} value={shown} [{attributes}] ({plain})";
    }

    private sealed record Recorded(IChatClient Client, string Outcome, List<string> CurrentSpanSeenByModel, List<string> Spans, List<string> Measurements, string? SpanSource);

    private sealed class Both(IDisposable a, IDisposable b) : IDisposable
    {
        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    /// <summary>A model with a provider, endpoint and default model, scripted per scenario.</summary>
    private sealed class ScriptedClient(string scenario) : IChatClient
    {
        private static readonly ChatClientMetadata Metadata = new("openai", new Uri("https://models.example:8443/v1"), Model);

        /// <summary>Activity.Current as the model saw it at each step: the middleware makes its span current.</summary>
        public List<string> CurrentSpanSeen { get; } = [];

        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            CurrentSpanSeen.Add(Activity.Current?.DisplayName ?? "(none)");
            if (scenario.Contains("fails", StringComparison.Ordinal))
            {
                throw new HttpRequestException("upstream said no");
            }

            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "hello there"))
            {
                ModelId = ResponseModel,
                ResponseId = "resp-ns",
                FinishReason = ChatFinishReason.Stop,
                Usage = new UsageDetails { InputTokenCount = 9, OutputTokenCount = 2, TotalTokenCount = 11, CachedInputTokenCount = 3 },
            };
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            if (scenario == "inner client throws when asked for the stream")
            {
                throw new ArgumentException("bad request shape");
            }

            return StreamAsync(cancellationToken);
        }

        private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (scenario == "stream fails before the first update")
            {
                await Task.Yield();
                throw new TimeoutException("no answer");
            }

            var bare = scenario == "stream of updates without model or usage";
            // Azure's prompt-filter chunk reaches the middleware as an empty update with no model yet.
            yield return new ChatResponseUpdate { Role = ChatRole.Assistant, ResponseId = bare ? null : "" };
            string[] tokens = ["Hel", "lo", " there"];
            for (var i = 0; i < tokens.Length; i++)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                CurrentSpanSeen.Add(Activity.Current?.DisplayName ?? "(none)");
                if (scenario == "stream fails mid-way" && i == 2)
                {
                    throw new InvalidOperationException("model went away");
                }

                yield return new ChatResponseUpdate(ChatRole.Assistant, tokens[i])
                {
                    ModelId = bare ? null : ResponseModel,
                    ResponseId = bare ? null : i == 0 ? "resp-1" : "resp-2",
                    MessageId = "msg-1",
                };
            }

            if (bare)
            {
                yield return new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop };
                yield break;
            }

            // Usage in two parts (summed, as ToChatResponse does), the finish reason on its own update.
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ModelId = ResponseModel,
                Contents = [new UsageContent(new UsageDetails { InputTokenCount = 12, OutputTokenCount = 5, CachedInputTokenCount = 4 })],
            };
            yield return new ChatResponseUpdate
            {
                FinishReason = ChatFinishReason.Length,
                Contents = [new UsageContent(new UsageDetails { OutputTokenCount = 2, ReasoningTokenCount = 2 })],
            };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? Metadata : null;

        public void Dispose()
        {
        }
    }

    /// <summary>Makes a new update per step and keeps none (as the protocol client does).</summary>
    private sealed class FreshUpdatesClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < 20; i++)
            {
                await Task.Yield();
                yield return new ChatResponseUpdate(ChatRole.Assistant, "token " + i.ToString(CultureInfo.InvariantCulture)) { ModelId = Model };
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
