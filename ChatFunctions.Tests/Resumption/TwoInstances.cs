using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using FakeAzureOpenAI;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// A scaled-out app: two separate app processes (A and B) sharing one storage account through AzureWebJobsStorage,
/// both calling the same fake Azure OpenAI in the test process. No affinity: a test picks which instance each
/// request reaches, as Flex Consumption's front end may.
/// </summary>
public sealed class TwoInstances : IAsyncDisposable
{
    private TwoInstances(FakeAzureOpenAIServer fake, AppProcess a, AppProcess b)
    {
        Fake = fake;
        A = a;
        B = b;
    }

    public FakeAzureOpenAIServer Fake { get; }

    public AppProcess A { get; }

    public AppProcess B { get; }

    public static Dictionary<string, string> Settings(Uri fakeEndpoint, string storageConnectionString) => new()
    {
        ["CHAT_PROVIDER"] = "AzureOpenAI",
        ["AZURE_OPENAI_ENDPOINT"] = fakeEndpoint.ToString(),
        ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = WireHost.Deployment,
        ["AZURE_OPENAI_API_KEY"] = WireHost.ApiKey,
        ["AzureWebJobsStorage"] = storageConnectionString,
    };

    public static async Task<TwoInstances> StartAsync(string storageConnectionString, IReadOnlyDictionary<string, string>? extra = null)
    {
        var fake = await FakeAzureOpenAIServer.StartAsync();
        try
        {
            var settings = Settings(fake.Endpoint, storageConnectionString);
            foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            {
                settings[key] = value;
            }

            var a = AppProcess.StartAsync(settings);
            var b = AppProcess.StartAsync(settings);
            try
            {
                await Task.WhenAll(a, b);
            }
            catch
            {
                foreach (var started in new[] { a, b }.Where(t => t.IsCompletedSuccessfully))
                {
                    await started.Result.DisposeAsync();
                }

                throw;
            }

            return new TwoInstances(fake, a.Result, b.Result);
        }
        catch
        {
            await fake.DisposeAsync();
            throw;
        }
    }

    /// <summary>How many model calls carried this exact message.</summary>
    public int ModelCallsFor(string message) =>
        Fake.Requests.Count(r => r.Body.ToJsonString().Contains($"\"{message}\"", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Fake.DisposeAsync();
    }
}
