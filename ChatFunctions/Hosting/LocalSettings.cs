using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace ChatFunctions.Hosting;

/// <summary>
/// Lets the standalone host read the same local.settings.json "Values" that `func start` turns into environment
/// variables, so one file configures both ways of running. Real environment variables still win.
/// </summary>
public static class LocalSettings
{
    public static IConfigurationBuilder AddLocalSettingsValues(this IConfigurationBuilder builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!File.Exists(path))
        {
            return builder;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (document.RootElement.TryGetProperty("Values", out var section) && section.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in section.EnumerateObject())
            {
                values[property.Name.Replace("__", ":", StringComparison.Ordinal)] = property.Value.ValueKind == JsonValueKind.String
                    ? property.Value.GetString()
                    : property.Value.GetRawText();
            }
        }

        var source = new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values };
        var firstEnvironment = builder.Sources.ToList().FindIndex(s => s is EnvironmentVariablesConfigurationSource);
        if (firstEnvironment < 0)
        {
            builder.Sources.Add(source);
        }
        else
        {
            builder.Sources.Insert(firstEnvironment, source);
        }

        return builder;
    }
}
