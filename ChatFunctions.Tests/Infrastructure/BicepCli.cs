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

    private static readonly Lazy<Task<BicepBuild>> BuildLazy = new(BuildEveryFileAsync);

    public static string InfraDirectory => RepoFiles.PathOf("infra");

    public static string ExecutablePath => PathLazy.Value;

    /// <summary>Every file under infra/ compiled by one `bicep build`, once per test run: each compile starts the CLI
    /// afresh (seconds of CPU, mostly its start-up), and the build test and every template test read the same
    /// output.</summary>
    public static Task<BicepBuild> BuildAsync() => BuildLazy.Value;

    /// <summary>infra/main.bicep compiled to ARM JSON, from <see cref="BuildAsync"/>.</summary>
    public static async Task<JsonObject> MainTemplateAsync()
    {
        var build = await BuildAsync();
        if (build.Result.ExitCode != 0 || !string.IsNullOrWhiteSpace(build.Result.StandardError) || build.Main is null)
        {
            throw new InvalidOperationException($"bicep build of main.bicep failed: {build.Result.Describe()}");
        }

        return build.Main;
    }

    public static Task<ProcessResult> RunAsync(params string[] arguments) =>
        ProcessRunner.RunAsync(ExecutablePath, arguments, InfraDirectory, TimeSpan.FromMinutes(3));

    private static async Task<BicepBuild> BuildEveryFileAsync()
    {
        var outDir = Directory.CreateTempSubdirectory("bicep-build-").FullName;
        try
        {
            var result = await RunAsync("build", "--pattern", "**/*.bicep", "--outdir", outDir);
            var compiled = Directory.EnumerateFiles(outDir, "*.json", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(outDir, f))
                .ToHashSet(StringComparer.Ordinal);
            var main = Path.Combine(outDir, "main.json");
            return new BicepBuild(result, compiled, File.Exists(main) ? JsonNode.Parse(await File.ReadAllTextAsync(main))!.AsObject() : null);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
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

/// <summary>What one `bicep build` of every file under infra/ printed, the ARM JSON files it wrote (relative to its
/// output folder, which mirrors infra/), and main.json parsed.</summary>
internal sealed record BicepBuild(ProcessResult Result, IReadOnlySet<string> Compiled, JsonObject? Main);
