using System.Text.Json;
using ChatFunctions.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// scripts/after-azd-up.sh against local stand-ins for a deployment: the real app (standalone host, demo model) serves
/// the page from a web root laid out as the deploy leaves dist/ (config.json, staticwebapp.config.json), and on another
/// port a small proxy plays the Function App's platform CORS in front of the same app's API, so page and API have two
/// origins as in Azure. The platform's own CORS is Azure's and is not tested here.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class AfterAzdUpScriptTests : IDisposable
{
    private readonly string _webRoot = Directory.CreateTempSubdirectory("after-azd-up-").FullName;

    public void Dispose() => Directory.Delete(_webRoot, recursive: true);

    [Fact]
    public async Task AWorkingDeployment_PassesEveryCheck()
    {
        // The host reads the web root when it starts, so the page is deployed first, naming the API's front.
        await using var api = await CorsFront.StartAsync();
        Deploy(apiBaseUrl: api.BaseAddress, cspAllows: Origin(api.BaseAddress));
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_WEB_ROOT"] = _webRoot });
        api.Forward(app.BaseAddress, allowedOrigin: Origin(app.BaseAddress));

        var result = await RunAsync(app.BaseAddress, api.BaseAddress);

        Assert.True(result.ExitCode == 0, result.Describe());
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Count(l => l.StartsWith("PASS ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("PASS a reply streamed from the API", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("FAIL ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABrokenDeployment_FailsEachBrokenCheck_ByName()
    {
        // The page was deployed without the runtime config (no predeploy hook); the API allows some other page.
        await using var api = await CorsFront.StartAsync();
        Deploy(apiBaseUrl: null, cspAllows: null);
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["CHAT_WEB_ROOT"] = _webRoot });
        api.Forward(app.BaseAddress, allowedOrigin: "https://elsewhere.example");

        var result = await RunAsync(app.BaseAddress, api.BaseAddress);

        Assert.Equal(1, result.ExitCode);
        var failed = result.StandardOutput.Split('\n').Where(l => l.StartsWith("FAIL ", StringComparison.Ordinal)).ToList();
        Assert.Contains(failed, l => l.StartsWith("FAIL config.json", StringComparison.Ordinal));
        Assert.Contains(failed, l => l.StartsWith("FAIL the page's CSP does not allow", StringComparison.Ordinal));
        Assert.Contains(failed, l => l.StartsWith("FAIL CORS preflight", StringComparison.Ordinal) && l.Contains("Access-Control-Allow-Origin is ''", StringComparison.Ordinal));
        Assert.Contains(failed, l => l.StartsWith("FAIL a reply streamed, but without Access-Control-Allow-Origin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithSignInOn_AndNoToken_ChecksThatAnAnonymousChatIsRefused()
    {
        await using var api = await CorsFront.StartAsync();
        Deploy(apiBaseUrl: api.BaseAddress, cspAllows: Origin(api.BaseAddress), signIn: true);
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_WEB_ROOT"] = _webRoot,
            ["CHAT_AUTH_ENABLED"] = "true",
            ["CHAT_AUTH_TENANT_ID"] = "11111111-1111-1111-1111-111111111111",
            ["CHAT_AUTH_CLIENT_ID"] = "33333333-3333-3333-3333-333333333333",
        });
        api.Forward(app.BaseAddress, allowedOrigin: Origin(app.BaseAddress));

        var result = await RunAsync(app.BaseAddress, api.BaseAddress);

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("PASS sign-in is on: an anonymous chat is refused (401)", result.StandardOutput, StringComparison.Ordinal);
    }

    private static string Origin(Uri uri) => uri.GetLeftPart(UriPartial.Authority);

    /// <summary>The web root as the deploy leaves dist/: the page, config.json and the rendered Static Web Apps config.</summary>
    private void Deploy(Uri? apiBaseUrl, string? cspAllows, bool signIn = false)
    {
        File.WriteAllText(Path.Combine(_webRoot, "index.html"), "<!doctype html><title>chat</title>");
        if (apiBaseUrl is not null)
        {
            var auth = signIn ? (object)new { clientId = "22222222-2222-2222-2222-222222222222", authority = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111", scopes = new[] { "api://33333333-3333-3333-3333-333333333333/chat" } } : null;
            File.WriteAllText(Path.Combine(_webRoot, "config.json"), JsonSerializer.Serialize(new { apiBaseUrl = apiBaseUrl.ToString().TrimEnd('/'), auth }));
        }

        var connect = cspAllows is null ? "connect-src 'self'" : $"connect-src 'self' {cspAllows}";
        File.WriteAllText(Path.Combine(_webRoot, "staticwebapp.config.json"), JsonSerializer.Serialize(new
        {
            globalHeaders = new Dictionary<string, string> { ["Content-Security-Policy"] = $"default-src 'none'; script-src 'self'; {connect}" },
        }));
    }

    private static Task<ProcessResult> RunAsync(Uri web, Uri api) =>
        // Only what the test sets (no azd on PATH here, so nothing is read from an azd environment).
        ProcessRunner.RunAsync(
            "/usr/bin/env",
            ["-i", "PATH=/usr/bin:/bin", $"WEB_URI={web}", $"API_BASE_URL={api}", "sh", RepoFiles.PathOf("scripts", "after-azd-up.sh")],
            RepoFiles.Root,
            TimeSpan.FromMinutes(2));

    /// <summary>
    /// Plays the Function App's platform CORS in front of the app's API: preflights answered for one allowed origin,
    /// everything else forwarded, with Access-Control-Allow-Origin added for that origin.
    /// </summary>
    private sealed class CorsFront : IAsyncDisposable
    {
        private WebApplication _front = null!;
        private HttpClient? _client;
        private string _allowedOrigin = "";

        public Uri BaseAddress { get; private set; } = null!;

        /// <summary>From now on, forwards to the app and allows the page at <paramref name="allowedOrigin"/>.</summary>
        public void Forward(Uri app, string allowedOrigin)
        {
            _client = new HttpClient { BaseAddress = app, Timeout = TimeSpan.FromMinutes(1) };
            _allowedOrigin = allowedOrigin;
        }

        public static async Task<CorsFront> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var cors = new CorsFront { _front = builder.Build() };
            var front = cors._front;
            front.Run(async context =>
            {
                var client = cors._client ?? throw new InvalidOperationException("The front was asked before it knew the app.");
                var allowedOrigin = cors._allowedOrigin;
                var allowed = context.Request.Headers.Origin.ToString() == allowedOrigin;
                if (allowed)
                {
                    context.Response.Headers.AccessControlAllowOrigin = allowedOrigin;
                }

                if (HttpMethods.IsOptions(context.Request.Method))
                {
                    if (allowed)
                    {
                        context.Response.Headers.AccessControlAllowMethods = "GET, POST, DELETE, OPTIONS";
                        context.Response.Headers.AccessControlAllowHeaders = context.Request.Headers.AccessControlRequestHeaders;
                    }

                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                    return;
                }

                using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), context.Request.Path + context.Request.QueryString);
                foreach (var name in new[] { "Authorization", "Accept" })
                {
                    if (context.Request.Headers.TryGetValue(name, out var value))
                    {
                        request.Headers.TryAddWithoutValidation(name, value.ToString());
                    }
                }

                if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
                {
                    request.Content = new StreamContent(context.Request.Body);
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType);
                }

                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
                context.Response.StatusCode = (int)response.StatusCode;
                if (response.Content.Headers.ContentType is { } type)
                {
                    context.Response.ContentType = type.ToString();
                }

                await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
                await body.CopyToAsync(context.Response.Body, context.RequestAborted);
            });
            await front.StartAsync();
            cors.BaseAddress = new Uri(front.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return cors;
        }

        public async ValueTask DisposeAsync()
        {
            _client?.Dispose();
            await _front.StopAsync();
            await _front.DisposeAsync();
        }
    }
}
