using System.Diagnostics;
using System.Net;
using ChatFunctions.Hosting;
using ChatFunctions.Models;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ChatFunctions.Tests.Diagnostics;

/// <summary>
/// OpenTelemetry listens to meters by name, process-wide: another app instance started by a test running in parallel
/// would add its streams to the counts, and disposing it ends the shared "ChatFunctions" instruments. Run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAloneTelemetry
{
    public const string Name = "Telemetry (not in parallel)";
}

/// <summary>
/// Real streams over HTTP against the app (standalone host, demo model), read back through OpenTelemetry's in-memory
/// exporter with the same sources and meters the app exports in production.
/// </summary>
[Collection(RunsAloneTelemetry.Name)]
public sealed class TelemetryTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Stream_outcomes_rejections_and_token_usage_are_measured_and_no_text_reaches_telemetry()
    {
        var metrics = new List<MetricSnapshot>();
        var spans = new List<Activity>();
        // No grace: the client that leaves mid-reply stops it at once, so its outcome is measured here.
        await using var server = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_RESUME_GRACE_SECONDS"] = "0" }, configureServices: services => services.AddOpenTelemetry()
            .WithMetrics(m => m.AddChatFunctionsMeters().AddInMemoryExporter(metrics))
            .WithTracing(t => t.AddChatFunctionsSources().AddInMemoryExporter(spans)));
        var marker = "zqx" + Guid.NewGuid().ToString("N");

        // Completed: the demo reply quotes the message, so the marker is in the reply text as well as the prompt.
        var completed = await SseClient.ReadAllAsync(server.Client, SseClient.Post($"Tell me about {marker}", new[] { new { role = "user", content = $"earlier {marker}" }, new { role = "assistant", content = $"reply {marker}" } }));
        SseClient.AssertWellFormed(completed);
        Assert.Contains(marker, SseClient.Text(completed), StringComparison.Ordinal);

        // Completed over GET: the message rides in the query string.
        var viaGet = await SseClient.ReadAllAsync(server.Client, new HttpRequestMessage(HttpMethod.Get, $"/api/chat/stream?message={marker}"));
        Assert.Equal("stop", viaGet[^1].Data["finishReason"]!.GetValue<string>());

        // Failed mid-stream.
        var failed = await SseClient.ReadAllAsync(server.Client, SseClient.Post($"{marker} [demo:error]"));
        Assert.Single(failed, f => f.IsError);

        // Rejected before streaming: a system turn in the history.
        using (var rejected = await SseClient.SendAsync(server.Client, SseClient.Post(marker, new[] { new { role = "system", content = marker } })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        }

        // Cancelled: the client disconnects after a few chunks of a long reply.
        using (var cts = new CancellationTokenSource(Patience))
        {
            var response = await SseClient.SendAsync(server.Client, SseClient.Post($"{marker} [demo:tokens=5000]"), cts.Token);
            var chunks = 0;
            await foreach (var frame in SseClient.ReadFramesAsync(response, cts.Token))
            {
                if (frame.IsChunk && ++chunks == 3)
                {
                    break;
                }
            }

            response.Dispose(); // closes the connection mid-stream
        }

        var meterProvider = server.Services.GetRequiredService<MeterProvider>();
        var tracerProvider = server.Services.GetRequiredService<TracerProvider>();

        // The cancelled stream ends on the server a moment after the disconnect; wait for it to be counted.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            lock (metrics)
            {
                metrics.Clear();
            }

            Assert.True(meterProvider.ForceFlush(5000));
            if ((Sum(metrics, "chatfunctions.stream.count", ("chatfunctions.stream.outcome", "cancelled")) >= 1
                    && Sum(metrics, "chatfunctions.stream.active") == 0)
                || deadline.Elapsed > Patience)
            {
                break;
            }

            await Task.Delay(Poll.RequestInterval);
        }

        Assert.True(tracerProvider.ForceFlush(5000));

        // Outcomes.
        Assert.Equal(2, Sum(metrics, "chatfunctions.stream.count", ("chatfunctions.stream.outcome", "completed")));
        Assert.Equal(1, Sum(metrics, "chatfunctions.stream.count", ("chatfunctions.stream.outcome", "failed"), ("error.type", "upstream_unavailable")));
        Assert.Equal(1, Sum(metrics, "chatfunctions.stream.count", ("chatfunctions.stream.outcome", "cancelled")));
        Assert.All(Points(metrics, "chatfunctions.stream.count"), p =>
        {
            Assert.Equal("demo", Tag(p, "gen_ai.provider.name"));
            Assert.Equal("chat", Tag(p, "gen_ai.operation.name"));
        });

        // Streams in flight went up and came back to zero.
        Assert.Equal(0, Sum(metrics, "chatfunctions.stream.active"));

        // Time to first chunk and duration per completed stream; duration for every stream by outcome.
        Assert.Equal(2, HistogramCount(metrics, "chatfunctions.stream.time_to_first_chunk", ("chatfunctions.stream.outcome", "completed")));
        Assert.True(HistogramSum(metrics, "chatfunctions.stream.time_to_first_chunk") > 0);
        Assert.Equal(2, HistogramCount(metrics, "chatfunctions.stream.duration", ("chatfunctions.stream.outcome", "completed")));
        Assert.Equal(1, HistogramCount(metrics, "chatfunctions.stream.duration", ("chatfunctions.stream.outcome", "cancelled")));
        Assert.Equal(1, HistogramCount(metrics, "chatfunctions.stream.duration", ("chatfunctions.stream.outcome", "failed")));
        Assert.True(HistogramCount(metrics, "chatfunctions.stream.tokens_per_second") >= 2);
        Assert.True(HistogramCount(metrics, "chatfunctions.stream.time_per_output_chunk") >= 2);

        // The rejection, by status and field.
        Assert.Equal(1, Sum(metrics, "chatfunctions.request.rejected", ("http.response.status_code", 400), ("chatfunctions.request.field", "history[0].role")));

        // Token usage from the GenAI telemetry at the model client (ChatClientTelemetry), input and output.
        var usage = Points(metrics, "gen_ai.client.token.usage").ToList();
        Assert.Contains(usage, p => Tag(p, "gen_ai.token.type") == "input" && p.GetHistogramSum() > 0);
        Assert.Contains(usage, p => Tag(p, "gen_ai.token.type") == "output" && p.GetHistogramSum() > 0);
        Assert.True(HistogramCount(metrics, "gen_ai.client.operation.duration") >= 3);

        // A gen_ai chat span per model call, and the request spans.
        lock (spans)
        {
            Assert.Contains(spans, s => s.Source.Name == ChatClientTelemetry.SourceName && s.GetTagItem("gen_ai.operation.name") as string == "chat");
            Assert.Contains(spans, s => s.Source.Name == ChatClientTelemetry.SourceName && s.Status == ActivityStatusCode.Error);
            Assert.Contains(spans, s => s.Source.Name == "Microsoft.AspNetCore");
        }

        // Nothing anywhere carries the prompt's (or the reply's) text.
        foreach (var metric in metrics)
        {
            foreach (var point in metric.MetricPoints)
            {
                foreach (var tag in point.Tags)
                {
                    Assert.DoesNotContain(marker, Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "", StringComparison.Ordinal);
                }
            }
        }

        lock (spans)
        {
            foreach (var span in spans)
            {
                Assert.DoesNotContain(marker, span.DisplayName, StringComparison.Ordinal);
                foreach (var tag in span.TagObjects)
                {
                    Assert.DoesNotContain(marker, Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "", StringComparison.Ordinal);
                }

                foreach (var e in span.Events)
                {
                    Assert.DoesNotContain(marker, e.Name, StringComparison.Ordinal);
                    foreach (var tag in e.Tags)
                    {
                        Assert.DoesNotContain(marker, Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "", StringComparison.Ordinal);
                    }
                }
            }
        }
    }

    [Fact]
    public async Task A_thinking_reply_splits_its_wait_and_counts_reasoning_tokens_beside_output_tokens()
    {
        const int thinkSeconds = 1;
        var metrics = new List<MetricSnapshot>();
        await using var server = await AppServer.StartAsync(new Dictionary<string, string> { ["DEMO_TOKEN_DELAY_MS"] = "1" }, configureServices: services => services.AddOpenTelemetry()
            .WithMetrics(m => m.AddChatFunctionsMeters().AddInMemoryExporter(metrics)));

        var frames = await SseClient.ReadAllAsync(server.Client, SseClient.Post($"think [demo:think={thinkSeconds}] [demo:tokens=5]"));
        SseClient.AssertWellFormed(frames);
        Assert.True(server.Services.GetRequiredService<MeterProvider>().ForceFlush(5000));

        Assert.Equal(1, HistogramCount(metrics, "chatfunctions.stream.time_to_first_byte", ("chatfunctions.stream.outcome", "completed")));
        Assert.Equal(1, HistogramCount(metrics, "chatfunctions.stream.thinking_time", ("chatfunctions.stream.outcome", "completed")));
        // The demo's think is a timer of exactly that length, which never fires early.
        Assert.True(HistogramSum(metrics, "chatfunctions.stream.thinking_time") >= thinkSeconds, "the think is measured in full");
        var reasoning = ChatFunctions.Models.DemoChatClient.ReasoningTokensPerSecond * thinkSeconds;
        Assert.Equal(reasoning, HistogramSum(metrics, "chatfunctions.stream.token_usage", ("gen_ai.token.type", "reasoning")));
        Assert.Equal(5 + reasoning, HistogramSum(metrics, "chatfunctions.stream.token_usage", ("gen_ai.token.type", "output")));
    }

    [Fact]
    public void Nothing_is_exported_unless_asked()
    {
        var services = new ServiceCollection();
        services.AddTelemetry(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();
        Assert.Null(provider.GetService<MeterProvider>());
        Assert.Null(provider.GetService<TracerProvider>());
        Assert.IsType<ChatClientTelemetry>(provider.GetService<ChatFunctions.Models.IChatClientPipeline>());
    }

    [Fact]
    public void Azure_Monitor_exporter_authenticates_with_the_user_assigned_managed_identity()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/",
            ["AZURE_CLIENT_ID"] = "11111111-1111-1111-1111-111111111111",
        }).Build();
        Assert.IsType<Azure.Identity.ManagedIdentityCredential>(TelemetryExtensions.CreateExporterCredential(configuration));

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTelemetry(configuration);
        using var provider = services.BuildServiceProvider();
        Assert.NotNull(provider.GetService<MeterProvider>());
        Assert.NotNull(provider.GetService<TracerProvider>());
    }

    private static List<MetricPoint> Points(List<MetricSnapshot> metrics, string name)
    {
        lock (metrics)
        {
            return metrics.Where(m => m.Name == name).SelectMany(m => m.MetricPoints).ToList();
        }
    }

    private static bool Matches(MetricPoint point, (string Key, object Value)[] tags) =>
        tags.All(t => Equals(Convert.ToString(TagObject(point, t.Key), System.Globalization.CultureInfo.InvariantCulture),
            Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture)));

    private static object? TagObject(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }

    private static string? Tag(MetricPoint point, string key) => TagObject(point, key) as string;

    private static long Sum(List<MetricSnapshot> metrics, string name, params (string Key, object Value)[] tags) =>
        Points(metrics, name).Where(p => Matches(p, tags)).Sum(p => p.GetSumLong());

    private static long HistogramCount(List<MetricSnapshot> metrics, string name, params (string Key, object Value)[] tags) =>
        Points(metrics, name).Where(p => Matches(p, tags)).Sum(p => p.GetHistogramCount());

    private static double HistogramSum(List<MetricSnapshot> metrics, string name, params (string Key, object Value)[] tags) =>
        Points(metrics, name).Where(p => Matches(p, tags)).Sum(p => p.GetHistogramSum());
}
