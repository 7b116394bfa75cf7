using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>azure.yaml: the two services azd deploys, and the hooks that hand the API address to the page.</summary>
[Trait("Category", "Infrastructure")]
public sealed class AzureYamlTests
{
    private static readonly YamlMappingNode Root = Load();

    [Fact]
    public void Api_IsTheDotnetProject_HostedAsAFunctionApp()
    {
        var api = Service("api");

        Assert.Equal("./ChatFunctions", Scalar(api, "project"));
        Assert.Equal("dotnet", Scalar(api, "language"));
        Assert.Equal("function", Scalar(api, "host"));
        Assert.True(File.Exists(RepoFiles.PathOf("ChatFunctions", "ChatFunctions.csproj")));
        // host.json sits at the repository root and the project links it into its output.
        Assert.True(File.Exists(RepoFiles.PathOf("host.json")));
    }

    [Fact]
    public void Web_IsTheStaticPage_HostedOnStaticWebApps_FromDist()
    {
        var web = Service("web");

        Assert.Equal("./static-web", Scalar(web, "project"));
        Assert.Equal("js", Scalar(web, "language"));
        Assert.Equal("staticwebapp", Scalar(web, "host"));
        Assert.Equal("dist", Scalar(web, "dist"));
        Assert.True(File.Exists(RepoFiles.PathOf("static-web", "package.json")));
        // With a swa-cli.config.json in the service folder azd would build with the SWA CLI instead of `npm run build`.
        Assert.False(File.Exists(RepoFiles.PathOf("static-web", "swa-cli.config.json")));
    }

    [Fact]
    public void Services_AreExactlyTheOnesTheBicepTagsName()
    {
        var services = ((YamlMappingNode)Root["services"]).Children.Keys.Select(k => k.ToString()).Order(StringComparer.Ordinal);
        Assert.Equal(["api", "web"], services);

        var api = RepoFiles.Read("infra", "main.bicep");
        Assert.Contains("serviceName: 'api'", api, StringComparison.Ordinal);
        Assert.Contains("serviceName: 'web'", api, StringComparison.Ordinal);
    }

    [Fact]
    public void WebHooks_WriteTheRuntimeConfigIntoTheBuildOutput_JustBeforeTheUpload_AndTakeItOutAfterTheDeploy_OnEveryShell()
    {
        var hooks = (YamlMappingNode)Service("web")["hooks"];

        // azd builds a js service inside its package step and fires no build event, so postbuild would never run;
        // predeploy comes after every build azd runs (Vite empties dist/) and before `swa deploy` uploads dist/.
        // static-web/scripts/azd-lifecycle.test.mjs replays the whole order against the real SWA CLI.
        Assert.Equal(["predeploy", "postdeploy"], hooks.Children.Keys.Select(k => k.ToString()));
        foreach (var (hook, command) in new[] { ("predeploy", "node ./scripts/write-runtime-config.mjs"), ("postdeploy", "node ./scripts/write-runtime-config.mjs --clean") })
        {
            foreach (var os in new[] { "posix", "windows" })
            {
                var shell = (YamlMappingNode)((YamlMappingNode)hooks[hook])[os];
                Assert.Equal(os == "posix" ? "sh" : "pwsh", Scalar(shell, "shell"));
                Assert.Equal(command, Scalar(shell, "run"));
                Assert.Equal("false", Scalar(shell, "continueOnError"));
            }
        }
    }

    [Fact]
    public void ProjectHooks_RunThePreAndPostProvisionScripts_OnEveryShell()
    {
        var hooks = (YamlMappingNode)Root["hooks"];

        foreach (var hook in new[] { "preprovision", "postprovision" })
        {
            foreach (var (os, shellName, extension) in new[] { ("posix", "sh", "sh"), ("windows", "pwsh", "ps1") })
            {
                var shell = (YamlMappingNode)((YamlMappingNode)hooks[hook])[os];
                Assert.Equal(shellName, Scalar(shell, "shell"));
                Assert.Equal($"./scripts/{hook}.{extension}", Scalar(shell, "run"));
                Assert.Equal("false", Scalar(shell, "continueOnError"));
                // Project hooks run in the project folder.
                Assert.True(File.Exists(RepoFiles.PathOf("scripts", $"{hook}.{extension}")), $"{hook}.{extension} missing");
            }
        }
    }

    [Fact]
    public void WebHooks_RunAScriptThatExists()
    {
        var web = Service("web");
        var projectDir = RepoFiles.PathOf(Scalar(web, "project"));
        var hooks = (YamlMappingNode)web["hooks"];

        foreach (var hook in hooks.Children.Values.Cast<YamlMappingNode>())
        {
            foreach (var shell in hook.Children.Values.Cast<YamlMappingNode>())
            {
                // Service hooks run in the service folder.
                var script = Regex.Match(Scalar(shell, "run"), @"node (\S+\.mjs)").Groups[1].Value;
                var path = Path.GetFullPath(Path.Combine(projectDir, script));
                Assert.True(File.Exists(path), $"hook script {path} does not exist");
            }
        }
    }

    [Fact]
    public void Up_ProvisionsBeforeItPackagesAndDeploys()
    {
        var steps = ((YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)Root["workflows"])["up"])["steps"])
            .Children.Cast<YamlMappingNode>().Select(s => Scalar(s, "azd")).ToList();

        Assert.Equal(["provision", "package --all", "deploy --all"], steps);
    }

    [Fact]
    public void Infra_IsTheBicepInTheInfraFolder()
    {
        var infra = (YamlMappingNode)Root["infra"];

        Assert.Equal("bicep", Scalar(infra, "provider"));
        Assert.Equal("infra", Scalar(infra, "path"));
        Assert.Equal("main", Scalar(infra, "module"));
        Assert.True(File.Exists(RepoFiles.PathOf("infra", "main.bicep")));
        Assert.True(File.Exists(RepoFiles.PathOf("infra", "main.parameters.json")));
    }

    private static YamlMappingNode Service(string name) => (YamlMappingNode)((YamlMappingNode)Root["services"])[name];

    private static string Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value ?? "" : throw new KeyNotFoundException(key);

    private static YamlMappingNode Load()
    {
        var stream = new YamlStream();
        using var reader = new StringReader(RepoFiles.Read("azure.yaml"));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }
}
