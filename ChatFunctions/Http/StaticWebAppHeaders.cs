using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Http;

/// <summary>
/// The headers the page gets in Azure, read from the staticwebapp.config.json in its build output (globalHeaders, and
/// the headers of routes that are a path or end in "/*"), so the standalone host serves the page with the same
/// Content-Security-Policy and caching as Static Web Apps, and a policy change is made in one file.
/// </summary>
public sealed class StaticWebAppHeaders
{
    /// <summary>The template's policy, for a web root without a staticwebapp.config.json.</summary>
    public const string DefaultPagePolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        + "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

    private readonly Dictionary<string, string> _global;
    private readonly List<(string Route, Dictionary<string, string> Headers)> _routes;

    private StaticWebAppHeaders(Dictionary<string, string> global, List<(string, Dictionary<string, string>)> routes)
    {
        _global = global;
        _routes = routes;
    }

    public static StaticWebAppHeaders Load(string? webRoot)
    {
        var global = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var routes = new List<(string, Dictionary<string, string>)>();
        var file = webRoot is null ? null : Path.Combine(webRoot, "staticwebapp.config.json");
        if (file is not null && File.Exists(file))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            if (document.RootElement.TryGetProperty("globalHeaders", out var globalHeaders))
            {
                ReadHeaders(globalHeaders, global);
            }

            if (document.RootElement.TryGetProperty("routes", out var routeList))
            {
                foreach (var route in routeList.EnumerateArray())
                {
                    if (route.TryGetProperty("route", out var path) && route.TryGetProperty("headers", out var headers))
                    {
                        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                        ReadHeaders(headers, values);
                        routes.Add((path.GetString() ?? "", values));
                    }
                }
            }
        }

        return new StaticWebAppHeaders(global, routes);
    }

    /// <summary>Sets the page's headers on a response that is about to start; headers already set are kept.</summary>
    public void Apply(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = context.Response;
        foreach (var (route, headers) in _routes)
        {
            if (Matches(route, context.Request.Path))
            {
                Set(response, headers);
            }
        }

        Set(response, _global);
        SecurityHeaders.ApplyPage(response, DefaultPagePolicy);
    }

    private static bool Matches(string route, PathString path) =>
        route.EndsWith("/*", StringComparison.Ordinal)
            ? path.StartsWithSegments(route[..^2], StringComparison.OrdinalIgnoreCase)
            : path.Equals(route, StringComparison.OrdinalIgnoreCase);

    private static void Set(HttpResponse response, Dictionary<string, string> headers)
    {
        foreach (var (name, value) in headers)
        {
            if (!response.Headers.ContainsKey(name))
            {
                response.Headers[name] = value;
            }
        }
    }

    private static void ReadHeaders(JsonElement element, Dictionary<string, string> into)
    {
        foreach (var header in element.EnumerateObject())
        {
            if (header.Value.ValueKind == JsonValueKind.String)
            {
                into[header.Name] = header.Value.GetString()!;
            }
        }
    }
}
