using System.Text.Json.Serialization;
using ChatFunctions.Health;
using ChatFunctions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChatFunctions.Functions;

/// <summary>GET /api/health/ready: whether this instance can serve a reply: its storage and its model answer
/// (<see cref="ReadinessChecks"/>). 200 with each check's state, or a 503 problem naming what is not ready. Liveness,
/// which checks nothing beyond the process, is /api/health.</summary>
public sealed class ReadinessFunction(HealthCheckService health)
{
    [Function("Readiness")]
    public async Task RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/ready")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(ReadinessChecks.Tag), cancellationToken);
        var response = request.HttpContext.Response;
        SecurityHeaders.ApplyApi(response);
        SecurityHeaders.NoStore(response);
        if (report.Status == HealthStatus.Healthy)
        {
            var ready = new ReadinessReport("ready", report.Entries.ToDictionary(e => e.Key, e => e.Value.Description ?? "ready"));
            await response.WriteAsJsonAsync(ready, ReadinessJsonContext.Default.ReadinessReport, contentType: null, cancellationToken);
            return;
        }

        var notReady = report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).ToDictionary(e => e.Key, e => new[] { e.Value.Description ?? "not ready" });
        var problem = new HttpValidationProblemDetails(notReady)
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "Not ready.",
            Detail = $"Not ready: {string.Join(", ", notReady.Keys)}.",
            Type = "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4",
        };
        response.Headers.RetryAfter = "10";
        await TypedResults.Problem(problem).ExecuteAsync(request.HttpContext);
    }
}

public sealed record ReadinessReport(string Status, IReadOnlyDictionary<string, string> Checks);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ReadinessReport))]
internal sealed partial class ReadinessJsonContext : JsonSerializerContext;
