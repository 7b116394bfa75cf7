using ChatFunctions.Access;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

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

        // Kestrel answers oversized request lines and headers itself, with an empty body, before any middleware:
        // its hard limits sit above ours (RequestLimits) so that up to them the answer is a problem like any other.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestLineSize = RequestLimits.ServerHardLimitBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = RequestLimits.ServerHardLimitBytes;
            kestrel.Limits.MaxRequestHeaderCount = RequestLimits.ServerHardLimitHeaderCount;
        });
        builder.Services.AddChatFunctions(builder.Configuration);
        builder.Services.AddTelemetry(builder.Configuration);
        // A function class is created per request by the container, not by ActivatorUtilities.CreateFactory, which
        // compiles an expression tree per class at start (on the cold start's path; docs/benchmarks-history.md "Cold start").
        var functions = FunctionRouteTable.Discover(typeof(StandaloneHost).Assembly);
        foreach (var function in functions)
        {
            builder.Services.TryAddTransient(function.FunctionType);
        }

        configureServices?.Invoke(builder.Services);
        var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<ChatServiceOptions>>().Value;
        var webRoot = ResolveWebRoot(options.WebRoot);
        UseResponseShaping(app, options, app.Services.GetRequiredService<ProblemResponder>(), StaticWebAppHeaders.Load(webRoot));

        if (webRoot is not null)
        {
            var files = new PhysicalFileProvider(webRoot);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }
        else
        {
            app.MapGet("/", context =>
            {
                // The page's own inline style needs its own policy; nothing else may load.
                context.Response.Headers.ContentSecurityPolicy = PageNotBuiltPolicy;
                context.Response.ContentType = "text/html; charset=utf-8";
                return context.Response.WriteAsync(PageNotBuilt, context.RequestAborted);
            });
        }

        // The page asks for its runtime configuration at start. A web root laid out by a deploy carries one (served as
        // is: this endpoint, once routed, keeps the static files from answering); otherwise the API is this host
        // itself, so the answer is "same origin, anonymous".
        // Every endpoint here is a plain RequestDelegate: a handler returning IResult would make routing build the
        // minimal-API request delegate factory (and its form-binding converters) for every endpoint at the first
        // request, which is on the cold start's path to the first token.
        var deployedConfig = webRoot is null ? null : Path.Combine(webRoot, "config.json");
        app.MapGet("/config.json", context =>
        {
            context.Response.Headers.CacheControl = "no-store";
            context.Response.ContentType = "application/json; charset=utf-8";
            return deployedConfig is not null && File.Exists(deployedConfig)
                ? context.Response.SendFileAsync(deployedConfig, context.RequestAborted)
                : context.Response.WriteAsync(SameOriginAnonymousConfig, context.RequestAborted);
        });

        foreach (var function in functions)
        {
            app.MapMethods($"/{RoutePrefix}/{function.Route}", function.Methods, context =>
            {
                var instance = context.RequestServices.GetRequiredService(function.FunctionType);
                return function.Invoke(instance, context);
            })
                .WithDisplayName(function.Name);
        }

        Log.StandaloneStarted(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StandaloneHost)),
            functions.Count, RoutePrefix, webRoot ?? "(not built)");
        return app;
    }

    /// <summary>
    /// What the Functions host's own pipeline would otherwise decide: the headers of every response, whom to believe
    /// about the client's address, and problem+json for what no function answers (routing, limits, exceptions).
    /// </summary>
    private static void UseResponseShaping(WebApplication app, ChatServiceOptions options, ProblemResponder problems, StaticWebAppHeaders pageHeaders)
    {
        // Every response, whoever writes it (function, static files, routing, the handlers below), gets its headers
        // just before it starts: the API's for /api, the page's (from staticwebapp.config.json) for the rest.
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                if (IsApi(context.Request.Path))
                {
                    SecurityHeaders.ApplyApi(context.Response);
                    if (!context.Response.Headers.ContainsKey(HeaderNames.CacheControl))
                    {
                        SecurityHeaders.NoStore(context.Response);
                    }
                }
                else
                {
                    pageHeaders.Apply(context);
                }

                return Task.CompletedTask;
            });
            return next(context);
        });
        if (ForwardedHeadersFor(options) is { } forwarded)
        {
            app.UseForwardedHeaders(forwarded);
        }

        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = context => problems.RejectAsync(context, new RequestRejection(StatusCodes.Status500InternalServerError,
                "server", "The server failed to handle the request; try again.")),
        });
        // Routing's 404 and 405 (and any other empty error) become problems too.
        app.UseStatusCodePages(context => problems.RejectAsync(context.HttpContext, RequestLimits.RejectionFor(context.HttpContext)));
        app.Use((context, next) => RequestLimits.Check(context) is { } refused ? problems.RejectAsync(context, refused) : next(context));
    }

    private static bool IsApi(PathString path) => path.StartsWithSegments("/" + RoutePrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// X-Forwarded-For is believed only from the proxies in CHAT_TRUSTED_PROXIES, walking back through trusted hops
    /// only. With none listed there is no middleware at all: ForwardedHeaders with empty KnownProxies and
    /// KnownIPNetworks would trust every peer, and its defaults trust loopback.
    /// </summary>
    internal static ForwardedHeadersOptions? ForwardedHeadersFor(ChatServiceOptions options)
    {
        if (!TrustedProxies.TryParse(options.TrustedProxies, out var networks, out _) || networks.Count == 0)
        {
            return null;
        }

        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = null,
        };
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var network in networks)
        {
            forwarded.KnownIPNetworks.Add(network);
        }

        return forwarded;
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

    private const string SameOriginAnonymousConfig = """{"apiBaseUrl":"","auth":null}""";

    private const string PageNotBuiltPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string PageNotBuilt = """
        <!doctype html><html lang="en"><meta charset="utf-8"><title>ChatFunctions</title>
        <body style="font-family:system-ui;max-width:40rem;margin:3rem auto">
        <h1>ChatFunctions API is running</h1>
        <p>The chat page is not built. Run <code>./scripts/run.sh</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>static-web/</code>) and restart.</p>
        <p>Try the API: <code>curl -N -X POST localhost:7071/api/chat/stream -H 'content-type: application/json' -d '{"message":"hi"}'</code></p>
        </body></html>
        """;
}
