using System.Diagnostics;
using System.Reflection;
using ChatFunctions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace ChatFunctions.Tests.Hosting;

/// <summary>
/// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the app settings infra/ sets) reach the sampler of the tracer provider
/// the Azure Monitor exporter is attached to. The sampler is asked directly rather than by starting spans: other tests'
/// providers listen to the same sources in this process and would record a span this one drops. The exporter's samplers
/// answer RecordOnly for a trace they leave out (kept for live metrics, never exported), RecordAndSample for one they send.
/// </summary>
public sealed class TelemetrySamplingTests
{
    [Theory]
    [InlineData("0", SamplingDecision.RecordOnly)]
    [InlineData("1", SamplingDecision.RecordAndSample)]
    public void A_fixed_percentage_reaches_the_exporters_sampler(string ratio, SamplingDecision expected)
    {
        using var provider = BuildTelemetry(new()
        {
            ["OTEL_TRACES_SAMPLER"] = "microsoft.fixed_percentage",
            ["OTEL_TRACES_SAMPLER_ARG"] = ratio,
        });

        var sampler = SamplerOf(provider.GetRequiredService<TracerProvider>());

        // Many trace ids: a ratio of 0 or 1 decides every one of them the same way.
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(expected, sampler.ShouldSample(Parameters()).Decision);
        }
    }

    [Fact]
    public void A_rate_limit_of_zero_traces_per_second_exports_nothing()
    {
        using var provider = BuildTelemetry(new()
        {
            ["OTEL_TRACES_SAMPLER"] = "microsoft.rate_limited",
            ["OTEL_TRACES_SAMPLER_ARG"] = "0",
        });

        var sampler = SamplerOf(provider.GetRequiredService<TracerProvider>());

        Assert.Contains("RateLimited", sampler.GetType().Name, StringComparison.Ordinal);
        Assert.All(Enumerable.Range(0, 20), _ => Assert.Equal(SamplingDecision.RecordOnly, sampler.ShouldSample(Parameters()).Decision));
    }

    [Fact]
    public void Without_a_sampler_setting_the_exporter_keeps_its_own_rate_limited_default()
    {
        using var provider = BuildTelemetry([]);
        using var fixedRatio = BuildTelemetry(new() { ["OTEL_TRACES_SAMPLER"] = "microsoft.fixed_percentage", ["OTEL_TRACES_SAMPLER_ARG"] = "1" });

        // Not the SDK's parent-based default: the exporter installed its own, and the setting swaps it.
        Assert.Contains("RateLimited", SamplerOf(provider.GetRequiredService<TracerProvider>()).GetType().Name, StringComparison.Ordinal);
        Assert.DoesNotContain("RateLimited", SamplerOf(fixedRatio.GetRequiredService<TracerProvider>()).GetType().Name, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("microsoft.fixed_percentage", "1.5", "OTEL_TRACES_SAMPLER_ARG")]
    [InlineData("microsoft.fixed_percentage", "half", "OTEL_TRACES_SAMPLER_ARG")]
    [InlineData("microsoft.rate_limited", "-1", "OTEL_TRACES_SAMPLER_ARG")]
    [InlineData("always_on", "1", "OTEL_TRACES_SAMPLER")]
    public void A_bad_sampler_setting_stops_the_start_naming_the_setting(string sampler, string argument, string named)
    {
        var error = Assert.Throws<InvalidOperationException>(() => BuildTelemetry(new()
        {
            ["OTEL_TRACES_SAMPLER"] = sampler,
            ["OTEL_TRACES_SAMPLER_ARG"] = argument,
        }).Dispose());

        Assert.StartsWith(named + ":", error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider BuildTelemetry(Dictionary<string, string?> settings)
    {
        // The key (no Entra ID token to fetch) and a closed loopback port: nothing leaves the machine.
        settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/";
        settings["APPLICATIONINSIGHTS_AUTH_MODE"] = "ConnectionString";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTelemetry(configuration);
        return services.BuildServiceProvider();
    }

    private static SamplingParameters Parameters() =>
        new(default, ActivityTraceId.CreateRandom(), "POST /api/chat/stream", ActivityKind.Server);

    /// <summary>The SDK keeps the provider's sampler internal; tests read it to see what the exporter configured.</summary>
    private static Sampler SamplerOf(TracerProvider provider)
    {
        const BindingFlags Flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var type = provider.GetType();
        var value = type.GetProperties(Flags).FirstOrDefault(p => typeof(Sampler).IsAssignableFrom(p.PropertyType))?.GetValue(provider)
            ?? type.GetFields(Flags).FirstOrDefault(f => typeof(Sampler).IsAssignableFrom(f.FieldType))?.GetValue(provider);
        return value as Sampler ?? throw new InvalidOperationException($"{type} exposes no sampler; the OpenTelemetry SDK changed.");
    }
}
