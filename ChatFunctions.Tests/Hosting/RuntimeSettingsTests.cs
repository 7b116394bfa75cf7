using System.Text.Json.Nodes;
using ChatFunctions.Tests.Infrastructure;

namespace ChatFunctions.Tests.Hosting;

/// <summary>
/// The runtime settings the benchmark measured and kept (docs/benchmarks-history.md §2 and §9) are in the app's
/// runtimeconfig.json, the file the Functions host's worker process and `dotnet ChatFunctions.dll` both read.
/// </summary>
public class RuntimeSettingsTests
{
    [Fact]
    public void TheBuiltAppsRuntimeConfig_TurnsOffTheThreadPoolSpinAndTieredPgo_AndKeepsWorkstationGc()
    {
        var path = RepoFiles.AppBuildOutput("ChatFunctions.runtimeconfig.json");

        var properties = JsonNode.Parse(File.ReadAllText(path))!["runtimeOptions"]!["configProperties"]!.AsObject();

        Assert.Equal(0, properties["System.Threading.ThreadPool.UnfairSemaphoreSpinLimit"]?.GetValue<int>());
        Assert.False(properties["System.Runtime.TieredPGO"]?.GetValue<bool>());
        Assert.False(properties.ContainsKey("System.GC.Server") && properties["System.GC.Server"]!.GetValue<bool>(), "server GC measured worse per stream");
    }
}
