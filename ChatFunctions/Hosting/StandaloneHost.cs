using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Hosting;

/// <summary>
/// Runs the very same function classes on a plain ASP.NET Core host when no Functions host started the
/// process (`dotnet ChatFunctions.dll`), on http://localhost:7071 unless --urls or ASPNETCORE_URLS says otherwise,
/// and serves the chat page (static-web's build output) at /.
/// </summary>
public static class StandaloneHost
{
    public const string DefaultUrl = "http://localhost:7071";
    public const string RoutePrefix = "api";

    /// <param name="args">Command line: --urls and any setting as --NAME=value.</param>
    /// <param name="configureServices">Replaces registrations after the app's own (tests swap in fakes of framework types).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddLocalSettingsValues(Path.Combine(AppContext.BaseDirectory, "local.settings.json"));
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"])
            && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.AddChatFunctions(builder.Configuration);
        builder.Services.AddTelemetry(builder.Configuration);
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();

        var webRoot = ResolveWebRoot(app.Services.GetRequiredService<IOptions<ChatServiceOptions>>().Value.WebRoot);
        if (webRoot is not null)
        {
            var files = new PhysicalFileProvider(webRoot);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }
        else
        {
            app.MapGet("/", () => Results.Content(PageNotBuilt, "text/html; charset=utf-8"));
        }

        var functions = FunctionRouteTable.Discover(typeof(StandaloneHost).Assembly);
        foreach (var function in functions)
        {
            var factory = ActivatorUtilities.CreateFactory(function.FunctionType, Type.EmptyTypes);
            app.MapMethods($"/{RoutePrefix}/{function.Route}", function.Methods, (HttpContext context) =>
                function.Invoke(factory(context.RequestServices, null), context.Request, context.RequestAborted))
                .WithDisplayName(function.Name);
        }

        Log.StandaloneStarted(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StandaloneHost)),
            functions.Count, RoutePrefix, webRoot ?? "(not built)");
        return app;
    }

    /// <summary>CHAT_WEB_ROOT, else wwwroot beside the app, else static-web/dist in a folder above it (a repository checkout).</summary>
    internal static string? ResolveWebRoot(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Directory.Exists(configured) ? Path.GetFullPath(configured)
                : throw new DirectoryNotFoundException($"CHAT_WEB_ROOT: the folder '{configured}' does not exist.");
        }

        var beside = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (File.Exists(Path.Combine(beside, "index.html")))
        {
            return beside;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var dist = Path.Combine(dir.FullName, "static-web", "dist");
            if (File.Exists(Path.Combine(dist, "index.html")))
            {
                return dist;
            }
        }

        return null;
    }

    private const string PageNotBuilt = """
        <!doctype html><html lang="en"><meta charset="utf-8"><title>ChatFunctions</title>
        <body style="font-family:system-ui;max-width:40rem;margin:3rem auto">
        <h1>ChatFunctions API is running</h1>
        <p>The chat page is not built. Run <code>./scripts/run.sh</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>static-web/</code>) and restart.</p>
        <p>Try the API: <code>curl -N -X POST localhost:7071/api/chat/stream -H 'content-type: application/json' -d '{"message":"hi"}'</code></p>
        </body></html>
        """;
}
