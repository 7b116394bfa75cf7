using ChatFunctions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// The real app (the standalone host with the real function classes) on a free loopback port, reached over
/// real HTTP. Settings go in as --NAME=value, as a user would pass them.
/// </summary>
public sealed class AppServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AppServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<AppServer> StartAsync(IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        var args = new List<string>
        {
            "--urls=http://127.0.0.1:0",
            "--CHAT_HOST_MODE=standalone",
            // Keep the test output readable; tests that look at logs add their own provider.
            "--Logging:Console:LogLevel:Default=Warning",
        };
        var merged = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            // Keep tests independent of whatever the machine has in its environment.
            ["CHAT_PROVIDER"] = "Demo",
            ["DEMO_TOKEN_DELAY_MS"] = "2",
            ["CHAT_WEB_ROOT"] = "",
            // Tests open many replies from one loopback address at once; the tests of the limit set their own.
            ["CHAT_MAX_OPEN_REPLIES_PER_CALLER"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            merged[key] = value;
        }

        args.AddRange(merged.Select(kv => $"--{kv.Key}={kv.Value}"));
        var app = StandaloneHost.Build([.. args], configureServices);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new AppServer(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
