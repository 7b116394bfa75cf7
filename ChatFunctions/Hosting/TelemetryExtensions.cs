using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Hosting;

public static class TelemetryExtensions
{
    /// <summary>OpenTelemetry wiring; filled in by the telemetry work (issue 5).</summary>
    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration) => services;
}
