namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>
/// Endpoint tests against the real app, signed in through the fake authority, its storage in Azurite. Every test signs
/// in users of its own (<see cref="NewUser"/>: fresh object ids), so tests sharing the Azurite never meet.
/// </summary>
public abstract class SignedInEndpointTests(AzuriteServer azurite) : IAsyncLifetime
{
    protected AzuriteServer Azurite { get; } = azurite;

    protected TestAuthority Authority { get; private set; } = null!;

    protected AppServer App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Authority = await TestAuthority.StartAsync();
        App = await StartAppAsync();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Authority.DisposeAsync();
    }

    /// <summary>Another instance of the app on the same authority and storage, with <paramref name="extra"/> settings.</summary>
    protected Task<AppServer> StartAppAsync(Dictionary<string, string>? extra = null)
    {
        var settings = Authority.Settings();
        settings["AzureWebJobsStorage"] = Azurite.ConnectionString();
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return AppServer.StartAsync(settings);
    }

    protected string NewUser() => TestAuthority.Mint(Authority.UserToken(objectId: Guid.NewGuid().ToString()));
}
