using System.Globalization;
using System.Text.Json.Nodes;
using ChatFunctions.Bench;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>local.settings.sample.json: what `cp local.settings.sample.json local.settings.json` gives a new developer.</summary>
[Trait("Category", "Infrastructure")]
public sealed class LocalSettingsSampleTests
{
    /// <summary>Read only by the standalone host, never by `func start`; documented in docs/deploy.md instead.</summary>
    private static readonly string[] NotForTheFunctionsHost = ["CHAT_WEB_ROOT", "CHAT_TRUSTED_PROXIES"];

    private static readonly JsonObject Sample = JsonNode.Parse(RepoFiles.Read("local.settings.sample.json"))!.AsObject();

    private static JsonObject SampleValues => Sample["Values"]!.AsObject();

    [Fact]
    public void Sample_RunsTheIsolatedWorkerAgainstAzurite()
    {
        Assert.False((bool)Sample["IsEncrypted"]!);
        Assert.Equal("UseDevelopmentStorage=true", (string?)SampleValues["AzureWebJobsStorage"]);
        Assert.Equal("dotnet-isolated", (string?)SampleValues["FUNCTIONS_WORKER_RUNTIME"]);
    }

    [Fact]
    public void Sample_AllowsTheLocalPageOrigins_WithoutAWildcard()
    {
        var host = Sample["Host"]!;
        Assert.Equal("http://localhost:4280,http://localhost:5173", (string?)host["CORS"]);
        Assert.False((bool)host["CORSCredentials"]!);
    }

    [Fact]
    public void Sample_ListsEverySettingTheAppReads()
    {
        var names = AppSettingNames.AllOptionsTypes().SelectMany(AppSettingNames.Of).Except(NotForTheFunctionsHost).ToList();
        Assert.Contains("AZURE_OPENAI_ENDPOINT", names);

        foreach (var name in names)
        {
            Assert.True(SampleValues.ContainsKey(name), $"local.settings.sample.json lacks {name}; add it (and a line in docs/deploy.md).");
        }

        var known = names.Concat(["AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"]).Concat(AppUnderTest.RuntimeEnvironment.Keys).ToHashSet();
        foreach (var (name, _) in SampleValues)
        {
            Assert.True(known.Contains(name), $"local.settings.sample.json sets {name}, which nothing reads.");
        }
    }

    /// <summary>`func start` gives the worker the sample's Values as its environment; run.sh exports them for the
    /// standalone host (which reads local.settings.json as configuration, too late for the runtime).</summary>
    [Fact]
    public void Sample_AndRunScript_StartTheWorkerWithTheDeployedRuntimeEnvironment()
    {
        var runScript = RepoFiles.Read("scripts", "run.sh");

        Assert.NotEmpty(AppUnderTest.RuntimeEnvironment);
        foreach (var (name, value) in AppUnderTest.RuntimeEnvironment)
        {
            Assert.Equal(value, (string?)SampleValues[name]);
            Assert.Contains($"export {name}=\"${{{name}:-{value}}}\"", runScript, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Sample_LeavesEveryModelSettingEmpty_SoANewCloneRunsTheDemoModel()
    {
        foreach (var name in new[] { "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_CHAT_DEPLOYMENT", "AZURE_OPENAI_API_KEY", "AZURE_CLIENT_ID", "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY" })
        {
            Assert.Equal("", (string?)SampleValues[name]);
        }

        Assert.Equal("auto", ((string?)SampleValues["CHAT_PROVIDER"])?.ToLowerInvariant());
    }

    [Fact]
    public void Sample_ShowsTheCodeDefaults_ForEveryTunableSetting()
    {
        foreach (var type in AppSettingNames.AllOptionsTypes())
        {
            var defaults = Activator.CreateInstance(type)!;
            foreach (var (name, property) in AppSettingNames.SettingProperties(type))
            {
                var sample = (string?)SampleValues[name];
                if (string.IsNullOrEmpty(sample) || property.GetValue(defaults) is not { } value)
                {
                    continue;
                }

                var expected = Convert.ToString(value, CultureInfo.InvariantCulture);
                Assert.True(
                    string.Equals(expected, sample, StringComparison.OrdinalIgnoreCase),
                    $"{name}: the sample says '{sample}', the code's default is '{expected}'.");
            }
        }
    }

    [Fact]
    public void Sample_BindsToOptionsWithoutErrors()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(SampleValues.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value)))
            .Build();

        foreach (var type in AppSettingNames.AllOptionsTypes())
        {
            var instance = Activator.CreateInstance(type)!;
            var error = Record.Exception(() => configuration.Bind(instance));
            Assert.True(error is null, $"{type.Name} does not bind the sample: {error?.Message}");

            // Empty model settings must mean "not configured" (the demo model answers), not an empty endpoint.
            if (type.GetProperty("IsConfigured")?.GetValue(instance) is bool configured)
            {
                Assert.False(configured, $"{type.Name} counts the sample's empty settings as configured.");
            }
        }
    }
}
