using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>
/// The Bicep CLI from the NuGet package Azure.Bicep.CommandLine.linux-x64, which the test project references
/// (assets excluded) so that a plain restore brings it; nothing is installed by hand.
/// </summary>
internal static class BicepCli
{
    private const string PackageId = "Azure.Bicep.CommandLine.linux-x64";

    private static readonly Lazy<string> PathLazy = new(Locate);

    private static readonly Lazy<Task<JsonObject>> MainTemplateLazy = new(CompileMainAsync);

    public static string InfraDirectory => RepoFiles.PathOf("infra");

    public static string ExecutablePath => PathLazy.Value;

    /// <summary>infra/main.bicep compiled to ARM JSON, once per test run.</summary>
    public static Task<JsonObject> MainTemplateAsync() => MainTemplateLazy.Value;

    public static Task<ProcessResult> RunAsync(params string[] arguments) =>
        ProcessRunner.RunAsync(ExecutablePath, arguments, InfraDirectory, TimeSpan.FromMinutes(3));

    private static async Task<JsonObject> CompileMainAsync()
    {
        var result = await RunAsync("build", "main.bicep", "--stdout");
        if (result.ExitCode != 0 || !string.IsNullOrWhiteSpace(result.StandardError))
        {
            throw new InvalidOperationException($"bicep build main.bicep failed: {result.Describe()}");
        }

        return JsonNode.Parse(result.StandardOutput)!.AsObject();
    }

    private static string Locate()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.OSArchitecture != Architecture.X64)
        {
            throw new PlatformNotSupportedException($"{PackageId} runs on linux-x64 only; these tests run there (CI, dev container).");
        }

        var version = PinnedVersion();
        var tried = new List<string>();
        foreach (var folder in PackageFolders())
        {
            var candidate = Path.Combine(folder, PackageId.ToLowerInvariant(), version, "tools", "bicep");
            tried.Add(candidate);
            if (File.Exists(candidate))
            {
                EnsureExecutable(candidate);
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"The Bicep CLI {version} was not found; run `dotnet restore` (the test project references {PackageId}). Tried: {string.Join(", ", tried)}");
    }

    /// <summary>The version pinned in Directory.Packages.props, so the tests never name it twice.</summary>
    private static string PinnedVersion()
    {
        var props = XDocument.Load(RepoFiles.PathOf("Directory.Packages.props"));
        return props.Descendants("PackageVersion")
            .Single(e => string.Equals((string?)e.Attribute("Include"), PackageId, StringComparison.OrdinalIgnoreCase))
            .Attribute("Version")!.Value;
    }

    private static IEnumerable<string> PackageFolders()
    {
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } fromEnvironment)
        {
            yield return fromEnvironment;
        }

        // The restore of this very project records the folders it used.
        var assets = RepoFiles.PathOf("ChatFunctions.Tests", "obj", "project.assets.json");
        if (File.Exists(assets) && JsonNode.Parse(File.ReadAllText(assets))?["packageFolders"] is JsonObject folders)
        {
            foreach (var (folder, _) in folders)
            {
                yield return folder;
            }
        }

        yield return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    }

    private static void EnsureExecutable(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if (!mode.HasFlag(UnixFileMode.UserExecute))
        {
            File.SetUnixFileMode(path, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
    }
}
