using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChatFunctions.Health;

/// <summary>Ready when a model is configured and either the start-up warm-up reached it (token and connection) or it
/// answers now (<see cref="ModelWarmUp.ProbeAsync"/>).</summary>
public sealed class ModelReadinessCheck(IChatModelProvider provider, ModelWarmUp warmUp) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!provider.IsAvailable)
        {
            return HealthCheckResult.Unhealthy("No chat model is configured. Set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_CHAT_DEPLOYMENT, or OPENAI_BASE_URL and OPENAI_MODEL.");
        }

        if (warmUp.Reached)
        {
            return HealthCheckResult.Healthy($"{provider.Name} {provider.Model}: reached at start-up.");
        }

        var failure = await warmUp.ProbeAsync(cancellationToken);
        return failure is null
            ? HealthCheckResult.Healthy($"{provider.Name} {provider.Model}: answers.")
            : HealthCheckResult.Unhealthy($"{provider.Name} {provider.Model} does not answer: {failure}.");
    }
}
