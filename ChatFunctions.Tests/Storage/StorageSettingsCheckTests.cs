using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Storage;

public class StorageSettingsCheckTests
{
    [Theory]
    [InlineData("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=not*base64!;TableEndpoint=http://127.0.0.1:1/devstoreaccount1")]
    [InlineData("this is not a connection string")]
    public async Task A_storage_connection_string_that_cannot_work_stops_the_app_at_start_naming_the_setting_not_the_key(string connectionString)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppServer.StartAsync(new Dictionary<string, string> { ["AzureWebJobsStorage"] = connectionString }));

        Assert.Contains("AzureWebJobsStorage", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not*base64!", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_well_formed_connection_string_starts_without_touching_storage()
    {
        // Nothing listens on port 1: the check parses the settings and never calls the service.
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteServer.AccountKey};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1",
        });

        using var health = await app.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
        Assert.True(health.IsSuccessStatusCode);
    }
}
