using Azure.Core;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Hosting;
using ChatFunctions.Http;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Hosting;

public class ServiceRegistrationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddProvider(new EveryLevelProvider()));
        services.AddChatFunctions(configuration);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    [Theory]
    [InlineData(typeof(IChatRequestReader), typeof(ChatRequestReader))]
    [InlineData(typeof(IChatStreamer), typeof(ChatStreamer))]
    [InlineData(typeof(IChatStreamObserver), typeof(ChatStreamMetrics))]
    public void ServicesAreRegisteredAsSingletons(Type service, Type implementation)
    {
        var services = new ServiceCollection();
        services.AddChatFunctions(new ConfigurationBuilder().Build());

        var descriptor = Assert.Single(services, d => d.ServiceType == service);
        Assert.Equal(ServiceLifetime.Singleton, descriptor.Lifetime);
        using var provider = Build([]);
        Assert.IsType(implementation, provider.GetRequiredService(service));
    }

    [Fact]
    public void RequestStartLogs_WhichCarryAGetsQuery_AreOffByDefault_OnEitherHost()
    {
        using var provider = Build([]);
        var loggers = provider.GetRequiredService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger(LogFilters.RequestStart).IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger(LogFilters.RequestStart).IsEnabled(LogLevel.Warning));
        Assert.True(loggers.CreateLogger("ChatFunctions.Streaming.ChatStreamer").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void NothingConfigured_ChoosesTheDemo()
    {
        using var provider = Build([]);

        var model = provider.GetRequiredService<IChatModelProvider>();
        Assert.Equal("demo", model.Name);
        Assert.True(model.IsAvailable);
    }

    [Fact]
    public void AzureSettings_ChooseAzureOpenAI_Keyless()
    {
        using var provider = Build(new()
        {
            ["AZURE_OPENAI_ENDPOINT"] = "https://example.openai.azure.com/",
            ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "gpt-4o-mini",
            ["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-000000000001",
        });

        var model = provider.GetRequiredService<IChatModelProvider>();
        Assert.Equal(("azure-openai", "gpt-4o-mini"), (model.Name, model.Model));
        Assert.IsType<Azure.Identity.DefaultAzureCredential>(provider.GetRequiredService<TokenCredential>());
    }

    [Fact]
    public void CompatibleSettings_ChooseTheOpenAICompatibleEndpoint()
    {
        using var provider = Build(new() { ["OPENAI_BASE_URL"] = "http://localhost:11434/v1", ["OPENAI_MODEL"] = "llama3.2" });

        var model = provider.GetRequiredService<IChatModelProvider>();
        Assert.Equal(("openai-compatible", "llama3.2"), (model.Name, model.Model));
    }

    [Theory]
    [InlineData("CHAT_MAX_OUTPUT_TOKENS", "0", "CHAT_MAX_OUTPUT_TOKENS")]
    [InlineData("CHAT_TEMPERATURE", "3", "CHAT_TEMPERATURE")]
    [InlineData("CHAT_REASONING_EFFORT", "extreme", "CHAT_REASONING_EFFORT")]
    [InlineData("CHAT_REASONING_EFFORT", "Low", "CHAT_REASONING_EFFORT")]
    [InlineData("CHAT_API", "completions", "CHAT_API")]
    [InlineData("CHAT_API", "", "CHAT_API")]
    [InlineData("CHAT_API", "responses", "CHAT_API")] // with no Azure OpenAI endpoint: the demo model has no Responses API
    [InlineData("CHAT_HEARTBEAT_SECONDS", "0", "CHAT_HEARTBEAT_SECONDS")]
    [InlineData("CHAT_SYSTEM_PROMPT", "", "CHAT_SYSTEM_PROMPT")]
    [InlineData("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com/", "AZURE_OPENAI_CHAT_DEPLOYMENT")]
    [InlineData("AZURE_OPENAI_ENDPOINT", "not-a-url", "AZURE_OPENAI_ENDPOINT")]
    [InlineData("OPENAI_BASE_URL", "http://localhost:11434/v1", "OPENAI_MODEL")]
    [InlineData("CHAT_PROVIDER", "AzureOpenAI", "CHAT_PROVIDER")]
    public void BadSettings_FailAtStart_NamingTheSetting(string key, string value, string named)
    {
        using var provider = Build(new() { [key] = value });

        var error = Assert.ThrowsAny<Exception>(() =>
        {
            _ = provider.GetRequiredService<IOptions<ChatServiceOptions>>().Value;
            _ = provider.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value;
            _ = provider.GetRequiredService<IOptions<OpenAICompatibleOptions>>().Value;
            _ = provider.GetRequiredService<IOptions<DemoOptions>>().Value;
        });
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResponsesApi_WithAnOpenAICompatibleServer_FailsAtStart_NamingCHAT_API()
    {
        using var provider = Build(new() { ["OPENAI_BASE_URL"] = "http://localhost:11434/v1", ["OPENAI_MODEL"] = "llama3.2", ["CHAT_API"] = "responses" });

        var error = Assert.ThrowsAny<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ChatServiceOptions>>().Value);
        Assert.Contains("CHAT_API: responses needs Azure OpenAI", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResponsesApi_WithAzureOpenAI_ChoosesAzureOpenAI()
    {
        using var provider = Build(new()
        {
            ["AZURE_OPENAI_ENDPOINT"] = "https://example.openai.azure.com/",
            ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "gpt-5.4-mini",
            ["CHAT_API"] = "responses",
        });

        var model = provider.GetRequiredService<IChatModelProvider>();
        Assert.Equal(("azure-openai", "gpt-5.4-mini"), (model.Name, model.Model));
        Assert.NotNull(model.Client.GetService<ResponsesProtocolChatClient>());
    }

    [Fact]
    public void EverySettingHasAName_AndNamesAreUnique()
    {
        var names = new[] { typeof(ChatServiceOptions), typeof(AzureOpenAIOptions), typeof(OpenAICompatibleOptions), typeof(DemoOptions) }
            .SelectMany(t => t.GetProperties().Where(p => p.CanWrite).Select(p => SettingNames.Of(p) ?? $"{t.Name}.{p.Name} has no name"))
            .ToList();

        Assert.All(names, n => Assert.Matches("^[A-Z][A-Z0-9_]+$", n));
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    /// <summary>A provider with no rules of its own whose loggers take every level: what gets through is the filters' doing.</summary>
    private sealed class EveryLevelProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new EveryLevelLogger();

        public void Dispose()
        {
        }

        private sealed class EveryLevelLogger : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
            }
        }
    }
}
