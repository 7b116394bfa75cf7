using System.Diagnostics;
using System.Globalization;
using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ChatFunctions.Hosting;

/// <summary>
/// OpenTelemetry for both hosts. The model client is always wrapped in Microsoft.Extensions.AI's GenAI middleware
/// (spans and metrics cost next to nothing while nobody listens); exporters are added only when asked for:
/// <list type="bullet">
/// <item>APPLICATIONINSIGHTS_CONNECTION_STRING: Azure Monitor (traces, metrics, logs), keyless with the managed
/// identity (AZURE_CLIENT_ID: the user-assigned one) since the resource has local authentication off;
/// APPLICATIONINSIGHTS_AUTH_MODE=ConnectionString keeps the plain connection string (ingestion key).</item>
/// <item>OTEL_EXPORTER_OTLP_ENDPOINT: OTLP (an Aspire dashboard or collector next to a local run).</item>
/// <item>OTEL_EXPORTER_CONSOLE=true: the console, for a quick look at what would be sent.</item>
/// </list>
/// Nothing is exported locally unless one is set. Prompt and reply text are never put in telemetry.
/// Trace volume to Azure Monitor is set by OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (see <see cref="TraceSampling"/>):
/// under host.json's telemetryMode OpenTelemetry, the classic samplingSettings there do not apply.
/// </summary>
public static class TelemetryExtensions
{
    public const string ServiceName = "ChatFunctions";

    public const string TracesSamplerSetting = "OTEL_TRACES_SAMPLER";

    public const string TracesSamplerArgSetting = "OTEL_TRACES_SAMPLER_ARG";

    /// <summary>Traces from our own code and the GenAI middleware; ASP.NET Core's request span only on the standalone host.</summary>
    internal static readonly string[] TraceSources = [ChatClientTelemetry.SourceName, "System.Net.Http"];

    internal static readonly string[] Meters =
    [
        ChatStreamMetrics.MeterName,
        ChatClientTelemetry.SourceName,
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Net.Http",
        "System.Runtime",
    ];

    /// <param name="functionsHost">True when the Azure Functions host runs the worker: adds the worker's own
    /// OpenTelemetry support (function invocation spans, host correlation), which only works under that host.</param>
    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration, bool functionsHost = false)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton<IChatClientPipeline, ChatClientTelemetry>();

        var connectionString = configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"];
        var azureMonitor = !string.IsNullOrWhiteSpace(connectionString);
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var console = configuration.GetValue<bool>("OTEL_EXPORTER_CONSOLE");
        if (!azureMonitor && !otlp && !console && !functionsHost)
        {
            // Nothing to export to. Tests (and anyone else) can still add their own OpenTelemetry readers.
            return services;
        }

        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(
                serviceName: configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : ServiceName,
                serviceVersion: typeof(TelemetryExtensions).Assembly.GetName().Version?.ToString()));
        if (functionsHost)
        {
            otel.UseFunctionsWorkerDefaults();
        }

        otel.WithTracing(tracing => tracing.AddChatFunctionsSources(functionsHost));
        otel.WithMetrics(metrics => metrics.AddChatFunctionsMeters());
        otel.WithLogging();

        if (azureMonitor)
        {
            var credential = CreateExporterCredential(configuration);
            // Parsed here so a bad value stops the start with the setting's name, not the first trace.
            var sampling = TraceSampling.FromConfiguration(configuration);
            void Configure(AzureMonitorExporterOptions o)
            {
                o.ConnectionString = connectionString;
                o.Credential = credential;
                sampling?.ApplyTo(o);
            }

            otel.WithTracing(t => t.AddAzureMonitorTraceExporter(Configure));
            otel.WithMetrics(m => m.AddAzureMonitorMetricExporter(Configure));
            otel.WithLogging(l => l.AddAzureMonitorLogExporter(Configure));
        }

        if (otlp)
        {
            // Reads OTEL_EXPORTER_OTLP_ENDPOINT / _PROTOCOL / _HEADERS itself.
            otel.UseOtlpExporter();
        }

        if (console)
        {
            otel.WithTracing(t => t.AddConsoleExporter());
            otel.WithMetrics(m => m.AddConsoleExporter());
            otel.WithLogging(l => l.AddConsoleExporter());
        }

        return services;
    }

    /// <summary>
    /// The spans the app exports: the GenAI middleware's, outgoing HTTP, and on the standalone host ASP.NET Core's request
    /// span, whose query string (a GET carries the user's message there) is redacted. Public so tests listen to the same set.
    /// </summary>
    public static TracerProviderBuilder AddChatFunctionsSources(this TracerProviderBuilder tracing, bool functionsHost = false)
    {
        ArgumentNullException.ThrowIfNull(tracing);
        tracing.AddSource(TraceSources);
        if (!functionsHost)
        {
            // Under the Functions host, the host and UseFunctionsWorkerDefaults make the request/invocation spans.
            tracing.AddSource("Microsoft.AspNetCore").AddProcessor(new QueryRedactionProcessor());
        }

        return tracing;
    }

    /// <summary>The app's meters: per-stream metrics, GenAI client metrics (token usage), HTTP server/client and runtime.</summary>
    public static MeterProviderBuilder AddChatFunctionsMeters(this MeterProviderBuilder metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return metrics.AddMeter(Meters);
    }

    /// <summary>
    /// Application Insights with local authentication off accepts only Entra ID tokens: the managed identity in Azure
    /// (the user-assigned one when AZURE_CLIENT_ID is set). Null (the connection string's key) only when
    /// APPLICATIONINSIGHTS_AUTH_MODE=ConnectionString is set explicitly, for a resource that still takes keys.
    /// </summary>
    internal static TokenCredential? CreateExporterCredential(IConfiguration configuration)
    {
        if (string.Equals(configuration["APPLICATIONINSIGHTS_AUTH_MODE"], "ConnectionString", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var clientId = configuration["AZURE_CLIENT_ID"];
        return string.IsNullOrWhiteSpace(clientId)
            ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
            : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
    }

    /// <summary>
    /// The Azure Monitor exporter's trace sampler, named the way the exporter names it in its own environment variables
    /// (OTEL_TRACES_SAMPLER=microsoft.rate_limited | microsoft.fixed_percentage, OTEL_TRACES_SAMPLER_ARG=traces per
    /// second | ratio kept). Read from configuration, so local.settings.json and --NAME=value work as well as app settings.
    /// Unset: the exporter's default (rate-limited, 5 traces per second). Metrics are never sampled.
    /// </summary>
    internal sealed record TraceSampling(double? TracesPerSecond, float? Ratio)
    {
        public const string RateLimited = "microsoft.rate_limited";

        public const string FixedPercentage = "microsoft.fixed_percentage";

        public static TraceSampling? FromConfiguration(IConfiguration configuration)
        {
            var sampler = configuration[TracesSamplerSetting]?.Trim();
            if (string.IsNullOrEmpty(sampler))
            {
                return null;
            }

            var argument = configuration[TracesSamplerArgSetting]?.Trim();
            if (!double.TryParse(argument, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || !double.IsFinite(value))
            {
                throw new InvalidOperationException($"{TracesSamplerArgSetting}: '{argument}' is not a non-negative number (traces per second, or the ratio 0-1 kept).");
            }

            return sampler.ToLowerInvariant() switch
            {
                RateLimited => new TraceSampling(value, null),
                FixedPercentage when value <= 1 => new TraceSampling(null, (float)value),
                FixedPercentage => throw new InvalidOperationException($"{TracesSamplerArgSetting}: '{argument}' is not a ratio between 0 and 1 for {FixedPercentage}."),
                _ => throw new InvalidOperationException($"{TracesSamplerSetting}: '{sampler}' is not {RateLimited} or {FixedPercentage}."),
            };
        }

        public void ApplyTo(AzureMonitorExporterOptions options)
        {
            // TracesPerSecond wins over SamplingRatio in the exporter, so a fixed ratio must clear it.
            options.TracesPerSecond = TracesPerSecond;
            if (Ratio is { } ratio)
            {
                options.SamplingRatio = ratio;
            }
        }
    }

    /// <summary>Drops the query string from the request span: url.query, the query part of url.full, and a name that holds it.</summary>
    internal sealed class QueryRedactionProcessor : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data)
        {
            ArgumentNullException.ThrowIfNull(data);
            if (data.GetTagItem("url.query") is not null)
            {
                data.SetTag("url.query", "Redacted");
            }

            foreach (var key in (ReadOnlySpan<string>)["url.full", "http.url", "http.target"])
            {
                if (data.GetTagItem(key) is string value && value.IndexOf('?', StringComparison.Ordinal) is var q and >= 0)
                {
                    data.SetTag(key, value[..q] + "?Redacted");
                }
            }

            if (data.DisplayName.IndexOf('?', StringComparison.Ordinal) is var i and >= 0)
            {
                data.DisplayName = data.DisplayName[..i];
            }

            // A stream id is a bearer capability (anyone holding it may read and stop an anonymous reply), and so is a
            // share id (anyone holding it reads the shared conversation): the path that names one is recorded with the
            // route's placeholder instead.
            foreach (var key in (ReadOnlySpan<string>)["url.path", "url.full", "http.url", "http.target"])
            {
                if (data.GetTagItem(key) is string value && StreamPathRedaction.Redact(value) is var redacted && !ReferenceEquals(redacted, value))
                {
                    data.SetTag(key, redacted);
                }
            }

            data.DisplayName = StreamPathRedaction.Redact(data.DisplayName);
        }
    }

    /// <summary>Replaces the id in <c>/api/chat/streams/{id}</c> with <c>{streamId}</c>, and in <c>/api/shares/{id}</c>
    /// with <c>{shareId}</c>: both ids are bearer capabilities.</summary>
    internal static class StreamPathRedaction
    {
        private static readonly (string Prefix, string Placeholder)[] Capabilities =
        [
            ("/api/chat/streams/", "{streamId}"),
            ("/api/shares/", "{shareId}"),
        ];

        public static string Redact(string value)
        {
            foreach (var (prefix, placeholder) in Capabilities)
            {
                var start = value.IndexOf(prefix, StringComparison.OrdinalIgnoreCase);
                if (start < 0)
                {
                    continue;
                }

                start += prefix.Length;
                var end = start;
                while (end < value.Length && value[end] is not ('/' or '?' or '#'))
                {
                    end++;
                }

                return end == start ? value : string.Concat(value.AsSpan(0, start), placeholder, value.AsSpan(end));
            }

            return value;
        }
    }
}
