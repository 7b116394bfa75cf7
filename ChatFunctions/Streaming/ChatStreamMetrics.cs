using System.Diagnostics;
using System.Diagnostics.Metrics;
using ChatFunctions.Models;

namespace ChatFunctions.Streaming;

/// <summary>Sees every stream start and end, and every rejected request; metrics hang off this.</summary>
public interface IChatStreamObserver
{
    IStreamObservation StreamStarted(string provider, string model);

    void RequestRejected(int status, string field);

    /// <summary>A client resumed a stream, from this instance's memory or from the store.</summary>
    void StreamResumed(string source);

    /// <summary>A stream log write failed (resumability degrades; the live reply does not).</summary>
    void StoreFailed(string operation);

    /// <summary>Every reader left and none came back within the grace window: the model call was stopped.</summary>
    void StreamAbandoned();

    /// <summary>A client's delivery ended: it had the last frame, left, or was dropped for stalling.</summary>
    void DeliveryEnded(DeliveryEnd outcome);
}

public interface IStreamObservation : IDisposable
{
    void Completed(StreamSummary summary, StreamError? failure);
}

/// <summary>
/// Per-stream metrics on the "ChatFunctions" meter, with the OpenTelemetry GenAI attributes (gen_ai.*). They are
/// measured where the user sees them: from the request's arrival (retries and the meta frame included) to the chunk
/// written to the client. The GenAI telemetry at the model client (ChatClientTelemetry) records the model-side
/// gen_ai.client.operation.time_to_first_chunk / time_per_output_chunk and gen_ai.client.token.usage on its own
/// meter; ours carry chatfunctions.* names so backends that merge metrics by name (Application Insights) don't
/// mix the two. No text is recorded.
/// </summary>
public sealed class ChatStreamMetrics : IChatStreamObserver
{
    public const string MeterName = "ChatFunctions";

    private readonly Histogram<double> _timeToFirstChunk;
    private readonly Histogram<double> _timeToFirstByte;
    private readonly Histogram<double> _thinkingTime;
    private readonly Histogram<long> _tokenUsage;
    private readonly Histogram<double> _timePerOutputChunk;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _tokensPerSecond;
    private readonly Counter<long> _streams;
    private readonly Counter<long> _rejected;
    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _resumed;
    private readonly Counter<long> _storeFailures;
    private readonly Counter<long> _abandoned;
    private readonly Counter<long> _deliveries;

    public ChatStreamMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        double[] seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 230];
        _timeToFirstChunk = meter.CreateHistogram("chatfunctions.stream.time_to_first_chunk", "s",
            "Time from the request to the first streamed chunk.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = seconds });
        _timeToFirstByte = meter.CreateHistogram("chatfunctions.stream.time_to_first_byte", "s",
            "Time from the request to the model's acceptance of it (its response headers).", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = seconds });
        _thinkingTime = meter.CreateHistogram("chatfunctions.stream.thinking_time", "s",
            "Time from the model's acceptance of the request to its first token: a reasoning model's think.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = seconds });
        _tokenUsage = meter.CreateHistogram<long>("chatfunctions.stream.token_usage", "{token}",
            "Tokens the model reported per reply, by gen_ai.token.type: output (reasoning included) and reasoning.");
        _timePerOutputChunk = meter.CreateHistogram<double>("chatfunctions.stream.time_per_output_chunk", "s",
            "Mean time between streamed chunks after the first.");
        _duration = meter.CreateHistogram("chatfunctions.stream.duration", "s",
            "Duration of a chat stream, by outcome.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = seconds });
        _tokensPerSecond = meter.CreateHistogram<double>("chatfunctions.stream.tokens_per_second", "{token}/s",
            "Streamed chunks per second after the first.");
        _streams = meter.CreateCounter<long>("chatfunctions.stream.count", "{stream}", "Chat streams, by outcome.");
        _rejected = meter.CreateCounter<long>("chatfunctions.request.rejected", "{request}", "Chat requests refused before streaming.");
        _active = meter.CreateUpDownCounter<long>("chatfunctions.stream.active", "{stream}", "Chat streams in flight.");
        _resumed = meter.CreateCounter<long>("chatfunctions.stream.resumed", "{resume}", "Streams resumed by a client, by source (memory or store).");
        _storeFailures = meter.CreateCounter<long>("chatfunctions.stream.store_failures", "{failure}", "Stream log writes that failed; resumability degraded, the live reply did not.");
        _abandoned = meter.CreateCounter<long>("chatfunctions.stream.abandoned", "{stream}", "Streams stopped because no reader came back within the grace window.");
        _deliveries = meter.CreateCounter<long>("chatfunctions.delivery.count", "{delivery}", "Client deliveries, by how they ended (finished, client_gone, stalled).");
    }

    public IStreamObservation StreamStarted(string provider, string model)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", "chat" },
            { "gen_ai.provider.name", provider },
            { "gen_ai.request.model", model },
        };
        _active.Add(1, tags);
        return new Observation(this, tags);
    }

    public void RequestRejected(int status, string field) =>
        _rejected.Add(1, new TagList { { "http.response.status_code", status }, { "chatfunctions.request.field", field } });

    public void StreamResumed(string source) => _resumed.Add(1, new TagList { { "chatfunctions.resume.source", source } });

    public void StoreFailed(string operation) => _storeFailures.Add(1, new TagList { { "chatfunctions.store.operation", operation } });

    public void StreamAbandoned() => _abandoned.Add(1);

    public void DeliveryEnded(DeliveryEnd outcome) => _deliveries.Add(1, new TagList
    {
        { "chatfunctions.delivery.end", outcome switch { DeliveryEnd.Finished => "finished", DeliveryEnd.Stalled => "stalled", _ => "client_gone" } },
    });

    /// <summary>completed, cancelled, failed, content_filtered or length: what dashboards group by.</summary>
    public static string Outcome(StreamFinishReason reason) => reason switch
    {
        StreamFinishReason.Stop => "completed",
        StreamFinishReason.Cancelled => "cancelled",
        StreamFinishReason.Error => "failed",
        StreamFinishReason.ContentFilter => "content_filtered",
        StreamFinishReason.Length => "length",
        _ => "unknown",
    };

    private sealed class Observation(ChatStreamMetrics metrics, TagList baseTags) : IStreamObservation
    {
        private bool _ended;

        public void Completed(StreamSummary summary, StreamError? failure)
        {
            var tags = baseTags;
            tags.Add("chatfunctions.stream.outcome", Outcome(summary.FinishReason));
            if (failure is not null)
            {
                tags.Add("error.type", failure.Code);
            }

            metrics._streams.Add(1, tags);
            metrics._duration.Record(summary.Duration.TotalSeconds, tags);
            if (summary.TimeToFirstToken is { } ttft)
            {
                metrics._timeToFirstChunk.Record(ttft.TotalSeconds, tags);
            }

            if (summary.TimeToFirstByte is { } ttfb)
            {
                metrics._timeToFirstByte.Record(ttfb.TotalSeconds, tags);
            }

            if (summary.Thinking is { } thinking)
            {
                metrics._thinkingTime.Record(thinking.TotalSeconds, tags);
            }

            RecordTokens(summary.Usage?.OutputTokenCount, "output", tags);
            RecordTokens(summary.Usage?.ReasoningTokenCount, "reasoning", tags);

            if (summary.TokensPerSecond > 0)
            {
                metrics._tokensPerSecond.Record(summary.TokensPerSecond, tags);
                metrics._timePerOutputChunk.Record(1 / summary.TokensPerSecond, tags);
            }

            End();
        }

        public void Dispose() => End();

        private void RecordTokens(long? count, string type, TagList tags)
        {
            if (count is { } value)
            {
                tags.Add("gen_ai.token.type", type);
                metrics._tokenUsage.Record(value, tags);
            }
        }

        private void End()
        {
            if (!_ended)
            {
                _ended = true;
                metrics._active.Add(-1, baseTags);
            }
        }
    }
}
