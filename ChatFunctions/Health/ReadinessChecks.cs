using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Health;

/// <summary>The checks /api/health/ready runs, registered with the platform's health checks under one tag, as eShop's
/// service defaults keep liveness and readiness apart.</summary>
public static class ReadinessChecks
{
    public const string Tag = "ready";

    public static IServiceCollection AddReadinessChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<StorageReadinessCheck>("storage", tags: [Tag])
            .AddCheck<ModelReadinessCheck>("model", tags: [Tag]);
        return services;
    }
}
