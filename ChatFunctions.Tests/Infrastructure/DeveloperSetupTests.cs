using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// The dev container and the GitHub Actions workflow, checked against what the repository's own scripts and azd need.
/// Neither can run here (no container engine, no GitHub, no Azure): these tests keep them consistent with the files
/// they depend on.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed partial class DeveloperSetupTests
{
    /// <summary>What `azd pipeline config` stores as repository variables for a GitHub federated credential.</summary>
    private static readonly string[] AzdPipelineVariables = ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME", "AZURE_LOCATION"];

    [GeneratedRegex(@"\$\{\{\s*(vars|secrets)\.([A-Za-z0-9_]+)\s*\}\}")]
    private static partial Regex ContextReference();

    [Fact]
    public void DevContainer_HasTheSdkOfGlobalJson_TheNodeThePageAsksFor_AndTheToolsTheScriptsCall()
    {
        var devcontainer = JsonNode.Parse(RepoFiles.Read(".devcontainer", "devcontainer.json"))!;
        var features = devcontainer["features"]!.AsObject();
        var dockerfile = RepoFiles.Read(".devcontainer", "Dockerfile");

        Assert.Equal("Dockerfile", (string?)devcontainer["build"]!["dockerfile"]);
        Assert.True(File.Exists(RepoFiles.PathOf(".devcontainer", "Dockerfile")));

        var sdk = (string)JsonNode.Parse(RepoFiles.Read("global.json"))!["sdk"]!["version"]!;
        var dotnet = (string?)features["ghcr.io/devcontainers/features/dotnet:2"]?["version"];
        Assert.Equal(string.Join('.', sdk.Split('.').Take(2)), dotnet);

        var engines = (string)JsonNode.Parse(RepoFiles.Read("static-web", "package.json"))!["engines"]!["node"]!;
        var nodeMajor = Regex.Match(engines, @"\d+").Value;
        Assert.Equal(nodeMajor, (string?)features["ghcr.io/devcontainers/features/node:1"]?["version"]);

        // Debian's chromium is what the browser tests drive (/usr/bin/chromium); Ubuntu's is a snap stub.
        Assert.Matches(@"(?m)^FROM \S+:(bookworm|trixie)\s*$", dockerfile);
        foreach (var package in new[] { "chromium", "curl", "git", "util-linux" })
        {
            Assert.Matches($@"(?m)^\s+{Regex.Escape(package)}( \\)?\s*$", dockerfile);
        }

        // azd, the Azure CLI for the hooks, and PowerShell for the .ps1 hooks.
        Assert.Contains("ghcr.io/azure/azure-dev/azd:latest", features.Select(f => f.Key));
        Assert.Contains("ghcr.io/devcontainers/features/azure-cli:1", features.Select(f => f.Key));

        var postCreate = (string)devcontainer["postCreateCommand"]!;
        Assert.Contains("dotnet tool restore", postCreate, StringComparison.Ordinal);
        Assert.Contains("npm ci", postCreate, StringComparison.Ordinal);

        // The two README commands (run.sh, test.sh) and the tools they call are in the repository.
        foreach (var script in new[] { "run.sh", "test.sh", "azurite.sh", "swa-cli.sh" })
        {
            Assert.True(File.Exists(RepoFiles.PathOf("scripts", script)), $"scripts/{script}");
        }

        Assert.Contains("flock", RepoFiles.Read("scripts", "azurite.sh"), StringComparison.Ordinal);
    }

    [Fact]
    public void Workflow_SignsInWithAFederatedCredential_AndReadsNoSecretButAzdsOwnConfig()
    {
        var text = RepoFiles.Read(".github", "workflows", "azure-dev.yml");
        var workflow = Load(text);

        var permissions = (YamlMappingNode)workflow["permissions"];
        Assert.Equal("write", Scalar(permissions, "id-token"));
        Assert.Equal("read", Scalar(permissions, "contents"));

        var references = ContextReference().Matches(text).Select(m => (Kind: m.Groups[1].Value, Name: m.Groups[2].Value)).ToList();
        Assert.Equal(["AZD_INITIAL_ENVIRONMENT_CONFIG"], references.Where(r => r.Kind == "secrets").Select(r => r.Name).Distinct());

        // Every repository variable it reads is one azd pipeline config stores: its own five, or azure.yaml's list.
        var listed = PipelineVariables();
        foreach (var (_, name) in references.Where(r => r.Kind == "vars"))
        {
            Assert.True(AzdPipelineVariables.Contains(name) || listed.Contains(name), $"vars.{name} is not set by azd pipeline config");
        }

        foreach (var name in AzdPipelineVariables.Concat(listed))
        {
            Assert.Contains(references, r => r.Kind == "vars" && r.Name == name);
        }

        Assert.Contains("--federated-credential-provider github", text, StringComparison.Ordinal);
        Assert.DoesNotContain("client-secret", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("AZURE_CREDENTIALS", text, StringComparison.Ordinal);

        var steps = ((YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)workflow["jobs"])["deploy"])["steps"]).Children.Cast<YamlMappingNode>()
            .Select(s => s.Children.TryGetValue(new YamlScalarNode("run"), out var run) ? ((YamlScalarNode)run).Value!.Trim() : null)
            .OfType<string>().ToList();
        Assert.Contains("azd provision --no-prompt", steps);
        Assert.Contains("azd deploy --all --no-prompt", steps);
        Assert.Contains("./scripts/after-azd-up.sh", steps);
    }

    [Fact]
    public void PipelineVariables_AreSettingsTheDeploymentReads()
    {
        // Read by Bicep's parameters, or by a hook (the page's runtime config reads the sign-in ids).
        var parameters = RepoFiles.Read("infra", "main.parameters.json");
        var hooks = string.Concat(Directory.GetFiles(RepoFiles.PathOf("scripts"), "*.sh").Select(File.ReadAllText))
            + RepoFiles.Read("static-web", "scripts", "runtime-config.mjs");
        foreach (var name in PipelineVariables())
        {
            Assert.True(
                parameters.Contains("${" + name, StringComparison.Ordinal) || hooks.Contains(name, StringComparison.Ordinal),
                $"{name} is read by neither main.parameters.json nor a hook");
        }
    }

    private static List<string> PipelineVariables()
    {
        var azureYaml = Load(RepoFiles.Read("azure.yaml"));
        var pipeline = (YamlMappingNode)azureYaml["pipeline"];
        Assert.Equal("github", Scalar(pipeline, "provider"));
        return [.. ((YamlSequenceNode)pipeline["variables"]).Children.Select(c => ((YamlScalarNode)c).Value!)];
    }

    private static YamlMappingNode Load(string text)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(text);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value ?? "";
}
