using System.Text.Json.Nodes;

namespace ChatFunctions.Tests.Infrastructure;

/// <summary>A resource of a compiled ARM template, with the template it sits in and the module path to it.</summary>
internal sealed record ArmResource(string Path, string SymbolicName, JsonObject Body, JsonObject Template)
{
    public string Type => (string?)Body["type"] ?? "";

    public JsonObject Properties => Body["properties"] as JsonObject ?? [];

    /// <summary>The inline template of a module (Microsoft.Resources/deployments).</summary>
    public JsonObject ModuleTemplate => Properties["template"]!.AsObject();

    /// <summary>The value (or the whole-parameter expression) a module passes for one of its parameters.</summary>
    public JsonNode? ModuleParameter(string name)
    {
        var parameters = Properties["parameters"]!.AsObject();
        if (!parameters.TryGetPropertyValue(name, out var parameter) || parameter is null)
        {
            return null;
        }

        // Conditional values compile to "[if(c, createObject('value', a), createObject('value', b))]".
        return parameter is JsonObject o && o.TryGetPropertyValue("value", out var value) ? value : parameter;
    }
}

internal static class ArmTemplate
{
    public const string DeploymentType = "Microsoft.Resources/deployments";

    /// <summary>The resources of one template; languageVersion 2.0 keeps them in an object keyed by symbolic name.</summary>
    public static IEnumerable<(string SymbolicName, JsonObject Body)> Resources(JsonObject template) => template["resources"] switch
    {
        JsonObject byName => byName.Select(p => (p.Key, p.Value!.AsObject())),
        JsonArray list => list.Select((r, i) => ((string?)r!["name"] ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture), r.AsObject())),
        _ => [],
    };

    /// <summary>Every resource in the template and in every module under it.</summary>
    public static IEnumerable<ArmResource> AllResources(JsonObject template, string path = "main")
    {
        foreach (var (name, body) in Resources(template))
        {
            var resource = new ArmResource(path, name, body, template);
            yield return resource;
            if (resource.Type == DeploymentType && resource.Properties["template"] is JsonObject nested)
            {
                foreach (var inner in AllResources(nested, $"{path}/{name}"))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>Every template: the root and each module's, with its path.</summary>
    public static IEnumerable<(string Path, JsonObject Template)> AllTemplates(JsonObject template, string path = "main")
    {
        yield return (path, template);
        foreach (var module in AllResources(template, path).Where(r => r.Type == DeploymentType))
        {
            yield return ($"{module.Path}/{module.SymbolicName}", module.ModuleTemplate);
        }
    }

    public static IEnumerable<ArmResource> OfType(JsonObject template, string type) =>
        AllResources(template).Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    public static ArmResource Module(JsonObject template, string symbolicName) =>
        Resources(template)
            // Templates without symbolic names (languageVersion 1) know a module by its deployment name only.
            .Where(r => (r.SymbolicName == symbolicName || (string?)r.Body["name"] == symbolicName) && (string?)r.Body["type"] == DeploymentType)
            .Select(r => new ArmResource("main", r.SymbolicName, r.Body, template))
            .SingleOrDefault()
        ?? throw new InvalidOperationException($"No module '{symbolicName}' in the template.");

    /// <summary>A node as text: a string value as is, anything else as JSON without escaping the quotes ARM expressions use.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => node.ToJsonString(RelaxedJson),
    };

    private static readonly System.Text.Json.JsonSerializerOptions RelaxedJson = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
