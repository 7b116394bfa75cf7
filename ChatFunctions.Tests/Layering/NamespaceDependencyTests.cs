using ChatFunctions.Hosting;

namespace ChatFunctions.Tests.Layering;

/// <summary>
/// The app's namespaces depend on each other in one direction only, the one docs/architecture.md draws: a namespace
/// may use the namespaces of the layers below its own, never those of its own layer or above. Read from the compiled
/// assembly, so a fully qualified name counts as much as a <c>using</c>.
/// </summary>
public sealed class NamespaceDependencyTests
{
    /// <summary>Top to bottom. Keep in step with the layer table in docs/architecture.md.</summary>
    public static readonly string[][] Layers =
    [
        [NamespaceGraph.Root],
        ["ChatFunctions.Hosting"],
        ["ChatFunctions.Functions"],
        ["ChatFunctions.Http"],
        ["ChatFunctions.Replies", "ChatFunctions.Health", "ChatFunctions.Shares"],
        ["ChatFunctions.Titles", "ChatFunctions.Conversations", "ChatFunctions.Resumption"],
        ["ChatFunctions.Budgets"],
        ["ChatFunctions.Access"],
        ["ChatFunctions.Streaming"],
        ["ChatFunctions.Models"],
        ["ChatFunctions.Chat"],
        ["ChatFunctions.Diagnostics"],
        ["ChatFunctions.Configuration", "ChatFunctions.Storage"],
    ];

    private static readonly Lazy<NamespaceGraph> Graph = new(() => NamespaceGraph.Of(typeof(HostMode).Assembly.Location));

    [Fact]
    public void Every_namespace_of_the_app_has_a_layer()
    {
        var placed = Layers.SelectMany(l => l).ToHashSet();
        var unplaced = Graph.Value.Namespaces.Where(n => !placed.Contains(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unplaced.Count == 0, $"Namespaces without a layer: {string.Join(", ", unplaced)}");
    }

    [Fact]
    public void The_scan_sees_the_dependencies_that_the_source_has()
    {
        // A scan that missed method bodies or top-level code would pass the rules below while checking nothing.
        var edges = Graph.Value.Edges;
        Assert.Contains(("ChatFunctions.Functions", "ChatFunctions.Replies"), edges.Keys);
        Assert.Contains(("ChatFunctions.Functions", "ChatFunctions.Http"), edges.Keys);
        Assert.Contains((NamespaceGraph.Root, "ChatFunctions.Hosting"), edges.Keys);
        Assert.Contains(("ChatFunctions.Streaming", "ChatFunctions.Diagnostics"), edges.Keys);
    }

    [Fact]
    public void Namespaces_depend_only_on_the_layers_below_their_own()
    {
        var layerOf = Layers.SelectMany((names, layer) => names.Select(n => (n, layer))).ToDictionary(p => p.n, p => p.layer);
        var forbidden = Graph.Value.Edges
            .Where(e => layerOf.TryGetValue(e.Key.From, out var from) && layerOf.TryGetValue(e.Key.To, out var to) && to <= from)
            .OrderBy(e => e.Key.From, StringComparer.Ordinal).ThenBy(e => e.Key.To, StringComparer.Ordinal)
            .Select(e => $"{e.Key.From} -> {e.Key.To}: {string.Join("; ", e.Value.Take(5))}")
            .ToList();
        Assert.True(forbidden.Count == 0, "Dependencies against the layers:\n" + string.Join("\n", forbidden));
    }

    /// <summary>Namespaces that may use ASP.NET Core's HTTP types: the hosts, the functions, Http, and Access, whose
    /// authenticators read the caller from the request. The use cases below answer in their own terms (a Refusal).</summary>
    public static readonly string[] HttpAware =
    [
        NamespaceGraph.Root, "ChatFunctions.Hosting", "ChatFunctions.Functions", "ChatFunctions.Http", "ChatFunctions.Access",
    ];

    [Fact]
    public void Only_the_HTTP_facing_namespaces_use_ASP_NET_Core_HTTP_types()
    {
        static bool IsHttp(string ns) =>
            ns == "Microsoft.AspNetCore.Http" || ns.StartsWith("Microsoft.AspNetCore.Http.", StringComparison.Ordinal) || ns == "Microsoft.Net.Http.Headers";

        Assert.Contains(Graph.Value.ExternalEdges.Keys, e => e.From == "ChatFunctions.Http" && IsHttp(e.To));
        var leaks = Graph.Value.ExternalEdges
            .Where(e => IsHttp(e.Key.To) && !HttpAware.Contains(e.Key.From))
            .OrderBy(e => e.Key.From, StringComparer.Ordinal)
            .Select(e => $"{e.Key.From} -> {e.Key.To}: {string.Join("; ", e.Value.Take(5))}")
            .ToList();
        Assert.True(leaks.Count == 0, "HTTP types outside the HTTP-facing namespaces:\n" + string.Join("\n", leaks));
    }

    [Fact]
    public void No_namespaces_depend_on_each_other_in_a_cycle()
    {
        var cycles = Graph.Value.Cycles();
        Assert.True(cycles.Count == 0, "Namespaces in a cycle: " + string.Join(" | ", cycles.Select(c => string.Join(", ", c))));
    }
}
