namespace ChatFunctions.Tests.Infrastructure;

/// <summary>Finds files of the repository the tests were built from.</summary>
internal static class RepoFiles
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    public static string Root => RootLazy.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

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
