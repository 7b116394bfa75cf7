using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Tests.Wire;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Resumption;

public sealed class StreamLogStoreFactoryTests
{
    private static (IStreamLogStore Store, CapturedLogs Logs) Create(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var logs = new CapturedLogs();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddOptions<ResumeOptions>().Bind(configuration);
        services.AddLogging();
        logs.Register(services);
        var provider = services.BuildServiceProvider();
        return (StreamLogStoreFactory.Create(provider), logs);
    }

    [Fact]
    public void With_a_storage_connection_string_it_chooses_blobs_and_says_so_without_the_string()
    {
        const string connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;";

        var (store, logs) = Create(new() { ["AzureWebJobsStorage"] = connectionString });

        Assert.IsType<BlobStreamLogStore>(store);
        Assert.True(store.IsShared);
        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 2001);
        Assert.Contains("chat-streams", entry.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries.SelectMany(e => e.AllText()), text => text.Contains("c2VjcmV0", StringComparison.Ordinal));
    }

    [Fact]
    public void With_identity_based_storage_it_chooses_blobs()
    {
        var (store, _) = Create(new()
        {
            ["AzureWebJobsStorage:blobServiceUri"] = "https://example.blob.core.windows.net",
            ["AzureWebJobsStorage:credential"] = "managedidentity",
        });

        Assert.IsType<BlobStreamLogStore>(store);
    }

    [Fact]
    public void Without_storage_it_keeps_logs_in_memory_for_the_configured_retention_and_says_so()
    {
        var (store, logs) = Create(new() { ["CHAT_RESUME_RETENTION_MINUTES"] = "5" });

        var memory = Assert.IsType<InMemoryStreamLogStore>(store);
        Assert.False(memory.IsShared);
        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 2002);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Contains("5 minutes", entry.Message, StringComparison.Ordinal);
        memory.Dispose();
    }

    [Fact]
    public void It_reads_the_options_through_IOptions()
    {
        var configuration = new ConfigurationBuilder().Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging()
            .AddSingleton(Options.Create(new ResumeOptions { RetentionMinutes = 7 }));

        using var store = Assert.IsType<InMemoryStreamLogStore>(StreamLogStoreFactory.Create(services.BuildServiceProvider()));
        Assert.False(store.IsShared);
    }
}
