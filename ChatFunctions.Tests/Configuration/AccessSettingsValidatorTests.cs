using ChatFunctions.Configuration;

namespace ChatFunctions.Tests.Configuration;

public class AccessSettingsValidatorTests
{
    [Fact]
    public void Sign_in_off_needs_nothing_else()
    {
        Assert.True(new AccessSettingsValidator().Validate(null, new AccessOptions()).Succeeded);
    }

    [Fact]
    public void A_complete_sign_in_setting_is_accepted()
    {
        var options = new AccessOptions { Enabled = true, TenantId = "contoso.onmicrosoft.com", ClientId = "2f6e8d4c-1a3b-4c5d-9e7f-a1b2c3d4e5f6" };

        Assert.True(new AccessSettingsValidator().Validate(null, options).Succeeded);
        Assert.Equal("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", options.MetadataAddress.AbsoluteUri);
    }

    [Theory]
    [InlineData(null, "client", "https://login.microsoftonline.com/", "CHAT_AUTH_TENANT_ID")]
    [InlineData("common", "client", "https://login.microsoftonline.com/", "CHAT_AUTH_TENANT_ID")]
    [InlineData("organizations", "client", "https://login.microsoftonline.com/", "CHAT_AUTH_TENANT_ID")]
    [InlineData("a/b", "client", "https://login.microsoftonline.com/", "CHAT_AUTH_TENANT_ID")]
    [InlineData("tenant", "", "https://login.microsoftonline.com/", "CHAT_AUTH_CLIENT_ID")]
    [InlineData("tenant", "client", "http://login.example.com/", "CHAT_AUTH_INSTANCE")]
    public void An_incomplete_or_unsafe_sign_in_setting_stops_the_app_naming_the_setting(string? tenant, string client, string instance, string setting)
    {
        var options = new AccessOptions { Enabled = true, TenantId = tenant, ClientId = client, Instance = new Uri(instance) };

        var result = new AccessSettingsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith(setting + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void Plain_http_is_allowed_only_for_a_loopback_test_authority()
    {
        var options = new AccessOptions { Enabled = true, TenantId = "tenant", ClientId = "client", Instance = new Uri("http://127.0.0.1:5000/") };

        Assert.True(new AccessSettingsValidator().Validate(null, options).Succeeded);
    }
}
