using System.Text.RegularExpressions;
using System.Xml.Linq;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.Docs;

/// <summary>The README's claims that follow from files in the repository: package versions, settings, deploy steps.</summary>
[Trait("Category", "Infrastructure")]
public sealed partial class ReadmeTests
{
    private static readonly string Readme = RepoFiles.Read("README.md");

    [GeneratedRegex("\"((?:OTEL|APPLICATIONINSIGHTS)_[A-Z_]+)\"")]
    private static partial Regex TelemetrySettingLiteral();

    [Fact]
    public void EveryPinnedPackageTheReadmeNamesWithAVersion_HasThePinnedVersion()
    {
        var pins = XDocument.Load(RepoFiles.PathOf("Directory.Packages.props")).Descendants("PackageVersion")
            .Select(e => ((string)e.Attribute("Include")!, (string)e.Attribute("Version")!));
        var checkedAny = false;
        foreach (var (package, version) in pins)
        {
            // "Azure.Core 1.63.0", not the "OpenAI" inside "Azure.AI.OpenAI 2.9.0-beta.1".
            var named = new Regex($@"(?<![\w.]){Regex.Escape(package)} (\d+\.\d+\.\d+(?:-[\w.]+)?)");
            foreach (Match match in named.Matches(Readme))
            {
                checkedAny = true;
                Assert.True(match.Groups[1].Value == version, $"README names {package} {match.Groups[1].Value}; Directory.Packages.props pins {version}.");
            }
        }

        Assert.True(checkedAny, "README names no pinned package with a version.");
        Assert.Contains("Azure.Core 1.63.0", Readme, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigurationTable_ListsEveryTelemetrySettingTheAppReads()
    {
        var table = Section("## Configuration");
        var names = Directory.EnumerateFiles(RepoFiles.PathOf("ChatFunctions"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => TelemetrySettingLiteral().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);

        Assert.Contains("OTEL_TRACES_SAMPLER", names);
        Assert.Contains("APPLICATIONINSIGHTS_CONNECTION_STRING", names);
        foreach (var name in names)
        {
            Assert.True(table.Contains($"| `{name}`", StringComparison.Ordinal), $"The configuration table has no row for {name}.");
        }
    }

    [Fact]
    public void DeploySection_SaysHowToTurnSignInAndBudgetsOn_AndWhatBoundsAnAnonymousDeployment()
    {
        var deploy = Section("## Deploy");

        foreach (var setting in new[] { "AZURE_AUTH_ENABLED", "CHAT_AUTH_ENABLED", "CHAT_TOKEN_BUDGET_PER_DAY", "CHAT_RATE_LIMIT_PER_MINUTE", "AZURE_OPENAI_CHAT_DEPLOYMENT_CAPACITY" })
        {
            Assert.Contains(setting, deploy, StringComparison.Ordinal);
        }

        Assert.Contains("azd env set AZURE_AUTH_ENABLED true", deploy, StringComparison.Ordinal);
        Assert.Contains("Microsoft.App", deploy, StringComparison.Ordinal);
        Assert.True(File.Exists(RepoFiles.PathOf("scripts", "after-azd-up.sh")), "The deploy section names scripts/after-azd-up.sh.");
        Assert.Contains("./scripts/after-azd-up.sh", deploy, StringComparison.Ordinal);
    }

    [Fact]
    public void Security_DescribesTheAppsOwnSignIn_NotAPlatformGateInFront()
    {
        var security = Section("## Security");

        Assert.Contains("AZURE_AUTH_ENABLED", security, StringComparison.Ordinal);
        Assert.DoesNotContain("put Entra ID (Easy Auth)", security, StringComparison.Ordinal);
    }

    /// <summary>From a level-2 heading to the next one.</summary>
    private static string Section(string heading)
    {
        var start = Readme.IndexOf(heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README has no '{heading}'.");
        var end = Readme.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
        return end < 0 ? Readme[start..] : Readme[start..end];
    }
}
