using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FakeAzureOpenAI;

/// <summary>
/// A Kestrel app on a free loopback port that answers POST /openai/deployments/{deployment}/chat/completions the
/// way Azure OpenAI does when streaming: a prompt-filter chunk with empty choices, delta chunks, filter-only chunks,
/// a finish_reason chunk, a usage chunk with empty choices, then [DONE]. Each request follows the next queued
/// <see cref="FakeScript"/> (or the default one) so tests can script faults: 429 with retry-after-ms, 500,
/// a connection reset mid-stream, a stall, a content-filter stop, and the truncations: a body that ends early, an
/// in-stream error object, a 200 page that is not an event stream.
/// </summary>
public sealed partial class FakeAzureOpenAIServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeScript> _scripts = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<SeenRequest> _seen = new();

    private FakeAzureOpenAIServer(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Used when no script is queued.</summary>
    public FakeScript DefaultScript { get; set; } = FakeScript.Reply("Hello", " from", " the", " fake", " model", ".");

    public IReadOnlyCollection<RecordedRequest> Requests => _requests;

    /// <summary>Every request that reached the server, chat completions or not, in order.</summary>
    public IReadOnlyCollection<SeenRequest> Seen => _seen;

    /// <summary>Set when the server saw the caller abandon a streaming request (the HTTP request was aborted).</summary>
    public event Action<RecordedRequest>? RequestAborted;

    public static Task<FakeAzureOpenAIServer> StartAsync(int port = 0, CancellationToken cancellationToken = default) =>
        StartAsync(port, tlsCertificate: null, cancellationToken);

    /// <param name="tlsCertificate">Serves HTTPS (HTTP/1.1 and HTTP/2 by ALPN, as Azure does) with this certificate;
    /// null: plain HTTP/1.1.</param>
    public static async Task<FakeAzureOpenAIServer> StartAsync(int port, X509Certificate2? tlsCertificate, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MinResponseDataRate = null;
            if (tlsCertificate is not null)
            {
                k.ConfigureHttpsDefaults(https => https.ServerCertificate = tlsCertificate);
            }
        });
        if (tlsCertificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves HTTPS out
        }

        builder.WebHost.UseUrls($"{(tlsCertificate is null ? "http" : "https")}://127.0.0.1:{port}");
        var app = builder.Build();
        var server = new FakeAzureOpenAIServer(app);
        app.Use((context, next) =>
        {
            var credentials = context.Request.Headers.ContainsKey("api-key") || context.Request.Headers.ContainsKey("Authorization");
            server._seen.Enqueue(new SeenRequest(context.Request.Method, context.Request.Path, context.Connection.Id, credentials));
            return next(context);
        });
        app.MapPost("/openai/deployments/{deployment}/chat/completions", server.HandleAsync);
        app.MapPost("/v1/chat/completions", server.HandleAsync);
        app.MapPost("/openai/v1/responses", server.HandleResponsesAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Endpoint = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    public void Enqueue(params FakeScript[] scripts)
    {
        ArgumentNullException.ThrowIfNull(scripts);
        foreach (var script in scripts)
        {
            _scripts.Enqueue(script);
        }
    }

    /// <summary>Records the request and takes its script; answers at once what is not a stream (a scripted failure, a
    /// page that is not an event stream, a caller that left while no headers were sent): then null.</summary>
    /// <param name="deployment">From the route (Azure's deployments path); null: the body's "model" names it (the v1 API).</param>
    private async Task<(RecordedRequest Recorded, FakeScript Script)?> BeginAsync(HttpContext context, string? deployment, bool deploymentFromBody = false)
    {
        var received = Stopwatch.GetTimestamp();
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var json = JsonNode.Parse(body)!.AsObject();
        var recorded = new RecordedRequest(
            context.Request.Path + context.Request.QueryString,
            deploymentFromBody ? json["model"]?.GetValue<string>() : deployment,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            json,
            received)
        {
            Protocol = context.Request.Protocol,
            ConnectionId = context.Connection.Id,
            ClientPort = context.Connection.RemotePort,
            ServerPort = context.Connection.LocalPort,
        };
        _requests.Enqueue(recorded);
        var script = _scripts.TryDequeue(out var queued) ? queued : DefaultScript;

        if (script.DelayBeforeHeaders > TimeSpan.Zero)
        {
            // Accepted and read, then no answer at all: not even the status line.
            using var abandoned = context.RequestAborted.Register(() => MarkAborted(recorded));
            try
            {
                await Task.Delay(script.DelayBeforeHeaders, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        if (script.Status is { } status)
        {
            context.Response.StatusCode = status;
            foreach (var (name, value) in script.Headers)
            {
                context.Response.Headers[name] = value;
            }

            if (script.ErrorBody is { } errorBody)
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(errorBody);
                return null;
            }

            await context.Response.WriteAsJsonAsync(new { error = new { code = status.ToString(System.Globalization.CultureInfo.InvariantCulture), message = "scripted failure" } });
            return null;
        }

        if (script.NonStreamBody is { } page)
        {
            // A 200 that is not an event stream: what a proxy or gateway in the way answers with.
            context.Response.ContentType = script.NonStreamContentType;
            await context.Response.WriteAsync(page);
            return null;
        }

        return (recorded, script);
    }

    private async Task HandleAsync(HttpContext context, string? deployment)
    {
        if (await BeginAsync(context, deployment) is not { } begun)
        {
            return;
        }

        var (recorded, script) = begun;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers["apim-request-id"] = Guid.NewGuid().ToString();
        // The caller's abandonment shows either as the abort token (while waiting between tokens) or as a failed
        // write (when the reset lands mid-write, the handler ends before the token fires): record whichever comes first.
        using var abortRegistration = context.RequestAborted.Register(() => MarkAborted(recorded));

        if (script.EventIds)
        {
            context.Items[NextEventIdKey] = 0;
        }

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N")[..20];
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var model = script.Model;
        try
        {
            // Azure sends the prompt's filter results first, with no choices at all.
            await WriteAsync(context, new JsonObject
            {
                ["choices"] = new JsonArray(),
                ["created"] = 0,
                ["id"] = "",
                ["model"] = "",
                ["object"] = "",
                ["prompt_filter_results"] = new JsonArray(new JsonObject { ["prompt_index"] = 0, ["content_filter_results"] = FilterResults() }),
            });

            // A reasoning model thinks here: the request is accepted and nothing more comes until the first token.
            var think = script.ThinkTimeFor(recorded.Body["reasoning_effort"]?.GetValue<string>());
            if (think > TimeSpan.Zero)
            {
                await Task.Delay(think, context.RequestAborted);
            }

            for (var i = 0; i < script.Tokens.Count; i++)
            {
                if (i > 0 && script.TokenInterval > TimeSpan.Zero)
                {
                    await Task.Delay(script.TokenInterval, context.RequestAborted);
                }

                if (i == script.ResetAfterTokens)
                {
                    await ResetAsync(context, script);
                    return;
                }

                if (i == script.EndAfterTokens)
                {
                    // The body ends cleanly (chunked terminator sent) with no finish_reason, usage or [DONE].
                    return;
                }

                if (i == script.StreamErrorAfterTokens)
                {
                    await context.Response.WriteAsync("data: " + script.StreamErrorJson + "\n\n", context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                    return;
                }

                if (i == script.StallAfterTokens)
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
                }

                if (i == script.HoldAfterTokens && script.Hold is { } hold)
                {
                    await hold.WaitAsync(context.RequestAborted);
                }

                var sentAt = Stopwatch.GetTimestamp();
                await WriteAsync(context, Chunk(id, created, model, new JsonObject { ["content"] = script.Tokens[i] }, null, sentAt));
                recorded.TokenSentTimestamps.Enqueue(sentAt);

                if (script.FilterChunkEvery > 0 && (i + 1) % script.FilterChunkEvery == 0)
                {
                    // Asynchronous filtering: a chunk with only filter results and offsets, no delta.
                    await WriteAsync(context, new JsonObject
                    {
                        ["choices"] = new JsonArray(new JsonObject
                        {
                            ["index"] = 0,
                            ["finish_reason"] = null,
                            ["content_filter_results"] = FilterResults(),
                            ["content_filter_offsets"] = new JsonObject { ["check_offset"] = 0, ["start_offset"] = 0, ["end_offset"] = i },
                        }),
                        ["created"] = created,
                        ["id"] = id,
                        ["model"] = model,
                        ["object"] = "chat.completion.chunk",
                    });
                }
            }

            if (script.ResetAfterTokens == script.Tokens.Count)
            {
                await ResetAsync(context, script);
                return;
            }

            if (script.EndAfterTokens == script.Tokens.Count)
            {
                return;
            }

            await WriteAsync(context, Chunk(id, created, model, new JsonObject(), script.FinishReason, null));
            if (script.EndAfterFinishReason)
            {
                return;
            }

            if (script.IncludeUsage && recorded.Body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
            {
                await WriteAsync(context, new JsonObject
                {
                    ["choices"] = new JsonArray(),
                    ["created"] = created,
                    ["id"] = id,
                    ["model"] = model,
                    ["object"] = "chat.completion.chunk",
                    ["usage"] = Usage(script),
                });
            }

            await context.Response.WriteAsync("data: [DONE]\n\n");
            await context.Response.Body.FlushAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away: exactly what the cancellation tests look for.
            MarkAborted(recorded);
        }
    }

    private void MarkAborted(RecordedRequest recorded)
    {
        if (recorded.TryMarkAborted(Stopwatch.GetTimestamp()))
        {
            RequestAborted?.Invoke(recorded);
        }
    }

    private static async Task ResetAsync(HttpContext context, FakeScript script)
    {
        if (script.ResetTrigger is { } trigger)
        {
            await trigger.WaitAsync(context.RequestAborted);
        }

        context.Abort();
    }

    private static JsonObject Chunk(string id, long created, string model, JsonObject delta, string? finishReason, long? sentAt)
    {
        var chunk = new JsonObject
        {
            ["choices"] = new JsonArray(new JsonObject
            {
                ["content_filter_results"] = finishReason is null ? FilterResults() : new JsonObject(),
                ["delta"] = delta,
                ["finish_reason"] = finishReason,
                ["index"] = 0,
                ["logprobs"] = null,
            }),
            ["created"] = created,
            ["id"] = id,
            ["model"] = model,
            ["object"] = "chat.completion.chunk",
            ["system_fingerprint"] = "fp_fake",
        };
        if (sentAt is { } ts)
        {
            // Lets the benchmark compute per-token added latency without clock sync: same machine, same clock.
            chunk["x_sent_timestamp"] = ts;
        }

        return chunk;
    }

    /// <summary>Usage as a reasoning model reports it: reasoning tokens are part of the completion tokens.</summary>
    private static JsonObject Usage(FakeScript script)
    {
        var completion = script.Tokens.Count + script.ReasoningTokens;
        var usage = new JsonObject
        {
            ["prompt_tokens"] = script.PromptTokens,
            ["completion_tokens"] = completion,
            ["total_tokens"] = script.PromptTokens + completion,
        };
        if (script.ReasoningTokens > 0)
        {
            usage["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = script.ReasoningTokens, ["accepted_prediction_tokens"] = 0 };
        }

        return usage;
    }

    /// <summary>The id of a chat completions request's next event, when its script asks for ids.</summary>
    private static readonly object NextEventIdKey = new();

    private static JsonObject FilterResults() => new()
    {
        ["hate"] = new JsonObject { ["filtered"] = false, ["severity"] = "safe" },
        ["self_harm"] = new JsonObject { ["filtered"] = false, ["severity"] = "safe" },
        ["sexual"] = new JsonObject { ["filtered"] = false, ["severity"] = "safe" },
        ["violence"] = new JsonObject { ["filtered"] = false, ["severity"] = "safe" },
    };

    private static async Task WriteAsync(HttpContext context, JsonObject payload)
    {
        var id = "";
        if (context.Items[NextEventIdKey] is int next)
        {
            context.Items[NextEventIdKey] = next + 1;
            id = "id: " + next.ToString(CultureInfo.InvariantCulture) + "\n";
        }

        await context.Response.WriteAsync(id + "data: " + payload.ToJsonString(Json) + "\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>What the fake server does for one request.</summary>
public sealed record FakeScript
{
    public IReadOnlyList<string> Tokens { get; init; } = [];

    public int? Status { get; init; }

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>JSON body of a scripted failure (with <see cref="Status"/>); null: a generic error object.</summary>
    public string? ErrorBody { get; init; }

    public string FinishReason { get; init; } = "stop";

    public TimeSpan TokenInterval { get; init; }

    /// <summary>After the prompt-filter chunk, wait this long before the first token: a reasoning model's think.</summary>
    public TimeSpan DelayBeforeFirstToken { get; init; }

    /// <summary>The think per requested <c>reasoning_effort</c>, as a reasoning model's grows with it; an effort not
    /// listed (or none sent) thinks <see cref="DelayBeforeFirstToken"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> ThinkTimeByEffort { get; init; } = new Dictionary<string, TimeSpan>();

    /// <summary>Reasoning tokens reported in usage (<c>completion_tokens_details.reasoning_tokens</c>, counted in completion_tokens too).</summary>
    public int ReasoningTokens { get; init; }

    /// <summary>Wait this long after reading the request before sending anything, the status line included.</summary>
    public TimeSpan DelayBeforeHeaders { get; init; }

    /// <summary>Abort the connection before sending token N (a reset mid-stream).</summary>
    /// <remarks>Kestrel's abort drops response bytes it has not sent yet, and writes complete before the bytes
    /// leave: without <see cref="ResetTrigger"/> the caller may lose the tokens sent just before the reset.</remarks>
    public int ResetAfterTokens { get; init; } = -1;

    /// <summary>When set, the reset waits for this task, e.g. until the test saw the tokens before it arrive downstream.</summary>
    public Task? ResetTrigger { get; init; }

    /// <summary>End the body cleanly before token N (N = the token count: after the last one): no finish_reason, usage or [DONE], as a cut-off reply looks.</summary>
    public int EndAfterTokens { get; init; } = -1;

    /// <summary>Every event carries an <c>id:</c> line (its number in the stream), as a proxy in front of the service
    /// might add. A client that reconnects by Last-Event-ID would then send the request again.</summary>
    public bool EventIds { get; init; }

    /// <summary>End the body cleanly right after the finish_reason chunk: no usage and no [DONE] (Responses API: after the
    /// message's output_item.done, with no response.completed or other ending event).</summary>
    public bool EndAfterFinishReason { get; init; }

    /// <summary>Before token N, send <see cref="StreamErrorJson"/> as a data event and end the body (an in-stream error).</summary>
    public int StreamErrorAfterTokens { get; init; } = -1;

    public string StreamErrorJson { get; init; } = """{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}""";

    /// <summary>Responses API: the reasoning summary's text deltas, sent after the think when the request asks for a
    /// summary (<c>reasoning.summary</c>).</summary>
    public IReadOnlyList<string> ReasoningSummary { get; init; } = [];

    /// <summary>Responses API: end with <c>response.failed</c> (this error code) instead of the finish reason's event.</summary>
    public string? ResponseFailedCode { get; init; }

    /// <summary>Responses API: the code of the <c>error</c> event sent at <see cref="StreamErrorAfterTokens"/>.</summary>
    public string StreamErrorCode { get; init; } = "server_error";

    /// <summary>When set, answer 200 with this body and <see cref="NonStreamContentType"/> instead of an event stream.</summary>
    public string? NonStreamBody { get; init; }

    public string NonStreamContentType { get; init; } = "text/html; charset=utf-8";

    /// <summary>Go silent before token N until the caller gives up.</summary>
    public int StallAfterTokens { get; init; } = -1;

    /// <summary>Before token N, wait for <see cref="Hold"/>: the rest of the reply comes only once the test has done
    /// what must happen mid-reply, however long that takes on a busy machine.</summary>
    public int HoldAfterTokens { get; init; } = -1;

    public Task? Hold { get; init; }

    /// <summary>Send a filter-only chunk after every N tokens (0: never).</summary>
    public int FilterChunkEvery { get; init; } = 2;

    public bool IncludeUsage { get; init; } = true;

    public int PromptTokens { get; init; } = 21;

    public string Model { get; init; } = "gpt-4o-mini-2024-07-18";

    public static FakeScript Reply(params string[] tokens) => new() { Tokens = tokens };

    public TimeSpan ThinkTimeFor(string? reasoningEffort) =>
        reasoningEffort is not null && ThinkTimeByEffort.TryGetValue(reasoningEffort, out var think) ? think : DelayBeforeFirstToken;

    public static FakeScript Failure(int status, params (string Name, string Value)[] headers) =>
        new() { Status = status, Headers = headers.ToDictionary(h => h.Name, h => h.Value) };
}

/// <summary>A request the fake server received, with when it arrived and when its caller abandoned it.</summary>
/// <summary>A request as the server first saw it: method, path, the connection it came on, and whether it carried a
/// key or a bearer token.</summary>
public sealed record SeenRequest(string Method, string Path, string ConnectionId, bool CarriedCredentials);

public sealed class RecordedRequest(string pathAndQuery, string? deployment, IReadOnlyDictionary<string, string> headers, JsonObject body, long receivedTimestamp)
{
    public string PathAndQuery { get; } = pathAndQuery;

    public string? Deployment { get; } = deployment;

    public IReadOnlyDictionary<string, string> Headers { get; } = headers;

    public JsonObject Body { get; } = body;

    public long ReceivedTimestamp { get; } = receivedTimestamp;

    /// <summary>"HTTP/1.1" or "HTTP/2".</summary>
    public string Protocol { get; init; } = "HTTP/1.1";

    public string ConnectionId { get; init; } = "";

    /// <summary>The caller's port on this connection: with the server's port, it names the one TCP connection the request came on.</summary>
    public int ClientPort { get; init; }

    /// <summary>The fake's own port of the request's connection: with <see cref="ClientPort"/>, the connection in the
    /// machine's socket table.</summary>
    public int ServerPort { get; init; }

    private long _abortedTimestamp;

    /// <summary>When the server saw the caller abandon the request, if it did.</summary>
    public long? AbortedTimestamp => Interlocked.Read(ref _abortedTimestamp) is var t and not 0 ? t : null;

    internal bool TryMarkAborted(long timestamp) => Interlocked.CompareExchange(ref _abortedTimestamp, timestamp, 0) == 0;

    public ConcurrentQueue<long> TokenSentTimestamps { get; } = new();
}
