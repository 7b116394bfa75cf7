using ChatFunctions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Resumption;

public sealed class ResumeOptionsTests
{
    private static ResumeOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddOptions<ResumeOptions>().Bind(configuration);
        services.AddSingleton<IValidateOptions<ResumeOptions>, SettingsValidator<ResumeOptions>>();
        return services.BuildServiceProvider().GetRequiredService<IOptions<ResumeOptions>>().Value;
    }

    [Fact]
    public void Defaults_are_30_s_grace_60_min_retention_250_ms_flush_30_s_stall()
    {
        var options = Bind([]);

        Assert.Equal(TimeSpan.FromSeconds(30), options.Grace);
        Assert.Equal(TimeSpan.FromMinutes(60), options.Retention);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.FlushInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ClientStallTimeout);
    }

    [Fact]
    public void Settings_bind_by_their_names()
    {
        var options = Bind(new()
        {
            ["CHAT_RESUME_GRACE_SECONDS"] = "0",
            ["CHAT_RESUME_RETENTION_MINUTES"] = "10080",
            ["CHAT_RESUME_FLUSH_MILLISECONDS"] = "50",
            ["CHAT_CLIENT_STALL_TIMEOUT_SECONDS"] = "600",
        });

        Assert.Equal(0, options.GraceSeconds);
        Assert.Equal(10_080, options.RetentionMinutes);
        Assert.Equal(50, options.FlushMilliseconds);
        Assert.Equal(600, options.ClientStallTimeoutSeconds);
    }

    [Theory]
    [InlineData("CHAT_RESUME_GRACE_SECONDS", "601")]
    [InlineData("CHAT_RESUME_GRACE_SECONDS", "-1")]
    [InlineData("CHAT_RESUME_RETENTION_MINUTES", "0")]
    [InlineData("CHAT_RESUME_RETENTION_MINUTES", "10081")]
    [InlineData("CHAT_RESUME_FLUSH_MILLISECONDS", "49")]
    [InlineData("CHAT_RESUME_FLUSH_MILLISECONDS", "5001")]
    [InlineData("CHAT_CLIENT_STALL_TIMEOUT_SECONDS", "0")]
    [InlineData("CHAT_CLIENT_STALL_TIMEOUT_SECONDS", "601")]
    public void Out_of_range_values_fail_naming_the_setting(string setting, string value)
    {
        var failure = Assert.Throws<OptionsValidationException>(() => Bind(new() { [setting] = value }));

        var message = Assert.Single(failure.Failures);
        Assert.StartsWith($"{setting}: must be between", message, StringComparison.Ordinal);
    }
}
