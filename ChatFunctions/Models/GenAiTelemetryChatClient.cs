using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// The OpenTelemetry GenAI span and client metrics of Microsoft.Extensions.AI 10.11.0's OpenTelemetryChatClient
/// (sensitive data off), without its memory cost: that middleware keeps every update of a stream in a list until the
/// stream ends, to build a ChatResponse for the span; this one folds each update into a few fields as it passes
/// (response model and id, finish reason, usage sums, first-chunk time) and keeps neither updates nor text.
/// </summary>
/// <remarks>
/// Same names, units, descriptions, bucket advice, span name and kind, attributes and status as the original; the
/// equivalence is tested against it (GenAiTelemetryChatClientTests). Deliberate differences:
/// <list type="bullet">
/// <item>No message content, ever: no gen_ai.input/output.messages, system instructions or additional properties (the
/// original records them only with EnableSensitiveData, which this app always turned off).</item>
/// <item>No gen_ai.tool.definitions: the app sends no tools (OpenAIProtocolChatClient refuses them), and the original
/// serializes them with its internal types.</item>
/// <item>No log event on failure: the original's gen_ai.client.operation.exception went to a null logger here.</item>
/// </list>
/// </remarks>
public sealed class GenAiTelemetryChatClient : DelegatingChatClient
{
    // The original's bucket advice (OpenTelemetryConsts.GenAI.Client.*.ExplicitBucketBoundaries, 10.11.0).
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    private static readonly int[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

    private readonly ActivitySource _activitySource;
    private readonly Meter _meter;
    private readonly Histogram<int> _tokenUsage;
    private readonly Histogram<double> _operationDuration;
    private readonly Histogram<double> _timeToFirstChunk;
    private readonly Histogram<double> _timePerOutputChunk;
    private readonly string? _defaultModelId;
    private readonly string? _providerName;
    private readonly string? _serverAddress;
    private readonly int _serverPort;

    public GenAiTelemetryChatClient(IChatClient innerClient, string sourceName)
        : base(innerClient)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        if (innerClient.GetService<ChatClientMetadata>() is { } metadata)
        {
            _defaultModelId = metadata.DefaultModelId;
            _providerName = metadata.ProviderName;
            _serverAddress = metadata.ProviderUri?.Host;
            _serverPort = metadata.ProviderUri?.Port ?? 0;
        }

        _activitySource = new ActivitySource(sourceName);
        _meter = new Meter(sourceName);
        _tokenUsage = _meter.CreateHistogram("gen_ai.client.token.usage", "{token}", "Measures number of input and output tokens used",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = TokenBuckets });
        _operationDuration = _meter.CreateHistogram("gen_ai.client.operation.duration", "s", "Measures the duration of a GenAI operation",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _timeToFirstChunk = _meter.CreateHistogram("gen_ai.client.operation.time_to_first_chunk", "s", "Measures the time to receive the first chunk in a streaming operation",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _timePerOutputChunk = _meter.CreateHistogram("gen_ai.client.operation.time_per_output_chunk", "s", "Measures the time per output chunk in a streaming operation",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ActivitySource) ? _activitySource : base.GetService(serviceType, serviceKey);

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        using var activity = StartActivity(options, streaming: false);
        var stopwatch = _operationDuration.Enabled ? Stopwatch.StartNew() : null;
        var requestModelId = options?.ModelId ?? _defaultModelId;
        ChatResponse? response = null;
        Exception? error = null;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken);
            return response;
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            var summary = response is null ? (ResponseSummary?)null : ResponseSummary.Of(response);
            Record(activity, requestModelId, summary, error, stopwatch, timeToFirstChunk: null);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        using var activity = StartActivity(options, streaming: true);
        var recordChunkHistograms = _timeToFirstChunk.Enabled || _timePerOutputChunk.Enabled;
        var stopwatch = _operationDuration.Enabled || recordChunkHistograms || activity is not null ? Stopwatch.StartNew() : null;
        var requestModelId = options?.ModelId ?? _defaultModelId;

        IAsyncEnumerable<ChatResponseUpdate> updates;
        try
        {
            updates = base.GetStreamingResponseAsync(messages, options, cancellationToken);
        }
        catch (Exception e)
        {
            Record(activity, requestModelId, null, e, stopwatch, timeToFirstChunk: null);
            throw;
        }

        var enumerator = updates.GetAsyncEnumerator(cancellationToken);
        var summary = default(ResponseSummary);
        var lastChunkElapsed = TimeSpan.Zero;
        var isFirstChunk = true;
        var chunkModelSet = false;
        double? timeToFirstChunk = null;
        var chunkTags = default(TagList);
        if (recordChunkHistograms)
        {
            AddMetricTags(ref chunkTags, requestModelId, responseModelId: null);
        }

        Exception? error = null;
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        break;
                    }

                    update = enumerator.Current;
                }
                catch (Exception e)
                {
                    error = e;
                    throw;
                }

                // As the original: every update the inner client yields is a chunk, whatever it carries.
                if (recordChunkHistograms)
                {
                    var elapsed = stopwatch!.Elapsed;
                    var sinceLast = (elapsed - lastChunkElapsed).TotalSeconds;
                    if (!chunkModelSet && update.ModelId is { } chunkModel)
                    {
                        chunkTags.Add("gen_ai.response.model", chunkModel);
                        chunkModelSet = true;
                    }

                    if (isFirstChunk)
                    {
                        isFirstChunk = false;
                        timeToFirstChunk = sinceLast;
                        if (_timeToFirstChunk.Enabled)
                        {
                            _timeToFirstChunk.Record(sinceLast, in chunkTags);
                        }
                    }
                    else if (_timePerOutputChunk.Enabled)
                    {
                        _timePerOutputChunk.Record(sinceLast, in chunkTags);
                    }

                    lastChunkElapsed = elapsed;
                }
                else if (activity is not null && timeToFirstChunk is null)
                {
                    timeToFirstChunk = stopwatch!.Elapsed.TotalSeconds;
                }

                summary.Add(update);
                yield return update;
                if (activity is not null)
                {
                    Activity.Current = activity;
                }
            }
        }
        finally
        {
            // Also when the consumer stops early (no error, as the original): the span ends with what was seen.
            Record(activity, requestModelId, summary, error, stopwatch, timeToFirstChunk);
            await enumerator.DisposeAsync();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _activitySource.Dispose();
            _meter.Dispose();
        }

        base.Dispose(disposing);
    }

    private Activity? StartActivity(ChatOptions? options, bool streaming)
    {
        if (!_activitySource.HasListeners())
        {
            return null;
        }

        var modelId = options?.ModelId ?? _defaultModelId;
        var activity = _activitySource.StartActivity(string.IsNullOrWhiteSpace(modelId) ? "chat" : "chat " + modelId, ActivityKind.Client);
        if (activity is null || !activity.IsAllDataRequested)
        {
            return activity;
        }

        // Tag order, value types and overloads as the original's CreateAndConfigureActivity.
        activity.AddTag("gen_ai.operation.name", "chat").AddTag("gen_ai.request.model", modelId).AddTag("gen_ai.provider.name", _providerName);
        if (streaming)
        {
            activity.AddTag("gen_ai.request.stream", true);
        }

        if (_serverAddress is not null)
        {
            activity.AddTag("server.address", _serverAddress).AddTag("server.port", _serverPort);
        }

        if (options is null)
        {
            return activity;
        }

        // In the original's order, each only when set (the tests compare both).
        AddIfSet(activity, "gen_ai.conversation.id", options.ConversationId);
        AddIfSet(activity, "gen_ai.request.frequency_penalty", options.FrequencyPenalty);
        AddIfSet(activity, "gen_ai.request.max_tokens", options.MaxOutputTokens);
        AddIfSet(activity, "gen_ai.request.presence_penalty", options.PresencePenalty);
        AddIfSet(activity, "gen_ai.request.seed", options.Seed);
        if (options.StopSequences is { Count: > 0 } stops)
        {
            activity.AddTag("gen_ai.request.stop_sequences", "[" + string.Join(", ", stops.Select(s => "\"" + s + "\"")) + "]");
        }

        AddIfSet(activity, "gen_ai.request.temperature", options.Temperature);
        AddIfSet(activity, "gen_ai.request.top_k", options.TopK);
        AddIfSet(activity, "gen_ai.request.top_p", options.TopP);

        switch (options.ResponseFormat)
        {
            case ChatResponseFormatText:
                activity.AddTag("gen_ai.output.type", "text");
                break;
            case ChatResponseFormatJson:
                activity.AddTag("gen_ai.output.type", "json");
                break;
        }

        return activity;
    }

    /// <summary>The original's TraceResponse with sensitive data off.</summary>
    private void Record(Activity? activity, string? requestModelId, ResponseSummary? response, Exception? error, Stopwatch? stopwatch, double? timeToFirstChunk)
    {
        var responseModelId = response?.ModelId;
        if (_operationDuration.Enabled && stopwatch is not null)
        {
            var tags = default(TagList);
            AddMetricTags(ref tags, requestModelId, responseModelId);
            if (error is not null)
            {
                tags.Add("error.type", error.GetType().FullName);
            }

            _operationDuration.Record(stopwatch.Elapsed.TotalSeconds, in tags);
        }

        if (_tokenUsage.Enabled && response is { } usage)
        {
            if (usage.InputTokens is { } input)
            {
                var tags = new TagList { { "gen_ai.token.type", "input" } };
                AddMetricTags(ref tags, requestModelId, responseModelId);
                _tokenUsage.Record((int)input, in tags);
            }

            if (usage.OutputTokens is { } output)
            {
                var tags = new TagList { { "gen_ai.token.type", "output" } };
                AddMetricTags(ref tags, requestModelId, responseModelId);
                _tokenUsage.Record((int)output, in tags);
            }
        }

        if (error is not null)
        {
            activity?.AddTag("error.type", error.GetType().FullName).SetStatus(ActivityStatusCode.Error, error.Message);
        }

        if (activity is null || response is not { } summary)
        {
            return;
        }

        if (summary.FinishReason is { } finishReason)
        {
            activity.AddTag("gen_ai.response.finish_reasons", "[\"" + finishReason.Value.ToLowerInvariant() + "\"]");
        }

        if (!string.IsNullOrWhiteSpace(summary.ResponseId))
        {
            activity.AddTag("gen_ai.response.id", summary.ResponseId);
        }

        if (summary.ModelId is not null)
        {
            activity.AddTag("gen_ai.response.model", summary.ModelId);
        }

        if (timeToFirstChunk is { } firstChunk)
        {
            activity.AddTag("gen_ai.response.time_to_first_chunk", firstChunk);
        }

        if (summary.InputTokens is { } inputTokens)
        {
            activity.AddTag("gen_ai.usage.input_tokens", (int)inputTokens);
        }

        if (summary.OutputTokens is { } outputTokens)
        {
            activity.AddTag("gen_ai.usage.output_tokens", (int)outputTokens);
        }

        if (summary.CachedInputTokens is { } cachedTokens)
        {
            activity.AddTag("gen_ai.usage.cache_read.input_tokens", (int)cachedTokens);
        }

        if (summary.ReasoningTokens is { } reasoningTokens)
        {
            activity.AddTag("gen_ai.usage.reasoning.output_tokens", (int)reasoningTokens);
        }
    }

    private void AddMetricTags(ref TagList tags, string? requestModelId, string? responseModelId)
    {
        tags.Add("gen_ai.operation.name", "chat");
        if (requestModelId is not null)
        {
            tags.Add("gen_ai.request.model", requestModelId);
        }

        tags.Add("gen_ai.provider.name", _providerName);
        if (_serverAddress is not null)
        {
            tags.Add("server.address", _serverAddress);
            tags.Add("server.port", _serverPort);
        }

        if (responseModelId is not null)
        {
            tags.Add("gen_ai.response.model", responseModelId);
        }
    }

    /// <summary>
    /// What the span and metrics read from a response, folded update by update the way ToChatResponse merges them:
    /// the last non-empty response id, the last finish reason and model, and usage summed over every UsageContent
    /// (a count stays null until some usage carries it).
    /// </summary>
    private struct ResponseSummary
    {
        public string? ModelId;
        public string? ResponseId;
        public ChatFinishReason? FinishReason;
        public long? InputTokens;
        public long? OutputTokens;
        public long? CachedInputTokens;
        public long? ReasoningTokens;

        public static ResponseSummary Of(ChatResponse response) => new()
        {
            ModelId = response.ModelId,
            ResponseId = response.ResponseId,
            FinishReason = response.FinishReason,
            InputTokens = response.Usage?.InputTokenCount,
            OutputTokens = response.Usage?.OutputTokenCount,
            CachedInputTokens = response.Usage?.CachedInputTokenCount,
            ReasoningTokens = response.Usage?.ReasoningTokenCount,
        };

        public void Add(ChatResponseUpdate update)
        {
            var contents = update.Contents;
            for (var i = 0; i < contents.Count; i++)
            {
                if (contents[i] is UsageContent { Details: var usage })
                {
                    InputTokens = Sum(InputTokens, usage.InputTokenCount);
                    OutputTokens = Sum(OutputTokens, usage.OutputTokenCount);
                    CachedInputTokens = Sum(CachedInputTokens, usage.CachedInputTokenCount);
                    ReasoningTokens = Sum(ReasoningTokens, usage.ReasoningTokenCount);
                }
            }

            if (!string.IsNullOrEmpty(update.ResponseId))
            {
                ResponseId = update.ResponseId;
            }

            if (update.FinishReason is not null)
            {
                FinishReason = update.FinishReason;
            }

            if (update.ModelId is not null)
            {
                ModelId = update.ModelId;
            }
        }

        private static long? Sum(long? a, long? b) => a is null && b is null ? null : (a ?? 0) + (b ?? 0);
    }

    private static void AddIfSet(Activity activity, string name, object? value)
    {
        if (value is not null)
        {
            activity.AddTag(name, value);
        }
    }
}
