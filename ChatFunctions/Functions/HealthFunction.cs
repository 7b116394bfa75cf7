using System.Reflection;
using System.Text.Json.Serialization;
using ChatFunctions.Http;
using ChatFunctions.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace ChatFunctions.Functions;

/// <summary>GET /api/health: which model answers, whether it is configured, and the build.</summary>
public sealed class HealthFunction(IChatModelProvider provider)
{
    internal static readonly string Version =
        typeof(HealthFunction).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    [Function("Health")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var report = new HealthReport(
            provider.IsAvailable ? "ok" : "unconfigured",
            provider.Name,
            provider.Model,
            provider.IsAvailable,
            provider.Name == ChatModelProvider.DemoName,
            Version);
        var response = request.HttpContext.Response;
        SecurityHeaders.ApplyApi(response);
        SecurityHeaders.NoStore(response);
        await response.WriteAsJsonAsync(report, HealthJsonContext.Default.HealthReport, contentType: null, cancellationToken);
    }
}

public sealed record HealthReport(string Status, string Provider, string Model, bool Configured, bool Demo, string Version);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HealthReport))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
