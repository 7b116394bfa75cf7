namespace ChatFunctions.Tests.Infrastructure;

/// <summary>Finds files of the repository the tests were built from.</summary>
internal static class RepoFiles
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    public static string Root => RootLazy.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

    /// <summary>A file of the app's build output in the configuration these tests were built in
    /// (ChatFunctions/bin/&lt;configuration&gt;/net10.0/, beside ChatFunctions.Tests/bin/&lt;configuration&gt;/net10.0/).</summary>
    public static string AppBuildOutput(string fileName) =>
        PathOf("ChatFunctions", "bin", new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name, "net10.0", fileName);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChatFunctions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No ChatFunctions.sln above {AppContext.BaseDirectory}.");
    }
}
