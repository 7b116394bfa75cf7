using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Storage;

/// <summary>
/// The app's own data (stream logs, token budgets) lives in the storage account the Functions host already uses,
/// configured the way the host reads it: <c>AzureWebJobsStorage</c> as a connection string
/// (<c>UseDevelopmentStorage=true</c> for Azurite), or identity-based <c>AzureWebJobsStorage__blobServiceUri</c> /
/// <c>__tableServiceUri</c> / <c>__accountName</c> with <c>__credential=managedidentity</c> and <c>__clientId</c>.
/// </summary>
public sealed class StorageAccount
{
    public const string SettingName = "AzureWebJobsStorage";

    private readonly string? _connectionString;
    private readonly Uri? _blobServiceUri;
    private readonly Uri? _tableServiceUri;
    private readonly TokenCredential? _credential;

    private StorageAccount(string? connectionString, Uri? blobServiceUri, Uri? tableServiceUri, TokenCredential? credential)
    {
        _connectionString = connectionString;
        _blobServiceUri = blobServiceUri;
        _tableServiceUri = tableServiceUri;
        _credential = credential;
    }

    /// <summary>Configured with a connection string (Azurite, or a key a developer chose), not an identity: the app then
    /// creates what Bicep creates in Azure.</summary>
    public bool IsConnectionString => _connectionString is not null;

    /// <summary>Where it points, for the start-up log (never the connection string itself: it may hold a key).</summary>
    public string Description => _connectionString is not null
        ? (_connectionString.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase) ? "development storage (Azurite)" : "connection string")
        : $"{_blobServiceUri?.Host ?? _tableServiceUri?.Host} (identity-based)";

    /// <summary>The account from configuration, or null when none is configured (the standalone host then keeps data in memory).</summary>
    /// <param name="defaultCredential">Used for identity-based settings without <c>__credential=managedidentity</c>.</param>
    public static StorageAccount? FromConfiguration(IConfiguration configuration, TokenCredential defaultCredential)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SettingName);
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            var account = new StorageAccount(section.Value.Trim(), null, null, null);
            account.CheckConnectionString();
            return account;
        }

        var accountName = section["accountName"];
        var blob = ParseUri(section["blobServiceUri"], "blobServiceUri")
            ?? (string.IsNullOrWhiteSpace(accountName) ? null : new Uri($"https://{accountName}.blob.core.windows.net"));
        var table = ParseUri(section["tableServiceUri"], "tableServiceUri")
            ?? (string.IsNullOrWhiteSpace(accountName) ? null : new Uri($"https://{accountName}.table.core.windows.net"));
        if (blob is null && table is null)
        {
            return null;
        }

        TokenCredential credential = defaultCredential;
        if (string.Equals(section["credential"], "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            var clientId = section["clientId"];
            credential = string.IsNullOrWhiteSpace(clientId)
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        }

        return new StorageAccount(null, blob, table, credential);
    }

    /// <summary>
    /// The clients parse the connection string in their constructors; a key that is not base64 (or a string that is
    /// not a connection string) would otherwise fail every request that touches storage. Fails with the setting's name
    /// and never the string itself (it holds the key).
    /// </summary>
    private void CheckConnectionString()
    {
        try
        {
            _ = new TableServiceClient(_connectionString);
            _ = new BlobServiceClient(_connectionString);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"{SettingName}: the connection string cannot be used ({ex.GetType().Name}); check that AccountKey is the account's base64 key, or use UseDevelopmentStorage=true or identity-based settings.");
        }
    }

    public BlobServiceClient CreateBlobServiceClient(BlobClientOptions? options = null) =>
        _connectionString is not null ? new BlobServiceClient(_connectionString, options)
        : _blobServiceUri is not null ? new BlobServiceClient(_blobServiceUri, _credential, options)
        : throw new InvalidOperationException($"{SettingName}__blobServiceUri (or __accountName) is not set.");

    public TableServiceClient CreateTableServiceClient(TableClientOptions? options = null) =>
        _connectionString is not null ? new TableServiceClient(_connectionString, options)
        : _tableServiceUri is not null ? new TableServiceClient(_tableServiceUri, _credential, options)
        : throw new InvalidOperationException($"{SettingName}__tableServiceUri (or __accountName) is not set.");

    private static Uri? ParseUri(string? value, string name) =>
        string.IsNullOrWhiteSpace(value) ? null
        : Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) ? uri
        : throw new InvalidOperationException($"{SettingName}__{name}: '{value}' is not an absolute http(s) URI.");
}
