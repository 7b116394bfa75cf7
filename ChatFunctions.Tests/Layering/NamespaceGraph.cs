using Mono.Cecil;
using Mono.Cecil.Cil;

namespace ChatFunctions.Tests.Layering;

/// <summary>
/// Which of the app's namespaces refer to which, read from the compiled assembly: every type a type names in its
/// signatures, attributes, fields, locals and method bodies counts, whether the source wrote a <c>using</c> or a fully
/// qualified name. Nested and compiler-generated types (lambdas, async state machines, source-generated logging) count
/// for the namespace of the type that declares them.
/// </summary>
public sealed class NamespaceGraph
{
    /// <summary>The namespace of top-level code (<c>Program.cs</c>) and of the Functions worker's generated types.</summary>
    public const string Root = "ChatFunctions";

    private readonly Dictionary<(string From, string To), SortedSet<string>> _edges = [];

    private readonly Dictionary<(string From, string To), SortedSet<string>> _external = [];

    private NamespaceGraph() { }

    /// <summary>Every dependency between two different namespaces, with the types that make it (for the failure message).</summary>
    public IReadOnlyDictionary<(string From, string To), SortedSet<string>> Edges => _edges;

    public IEnumerable<string> Namespaces => _edges.Keys.SelectMany(e => new[] { e.From, e.To }).Distinct();

    /// <summary>Every use of another assembly's namespace by one of the app's, with the types that make it.</summary>
    public IReadOnlyDictionary<(string From, string To), SortedSet<string>> ExternalEdges => _external;

    public static NamespaceGraph Of(string assemblyPath)
    {
        var graph = new NamespaceGraph();
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        foreach (var type in module.GetTypes())
        {
            var from = NamespaceOf(type);
            if (from is null)
            {
                continue;
            }

            foreach (var used in TypesUsedBy(type))
            {
                if (Outer(used) is { Scope: AssemblyNameReference, Namespace: { Length: > 0 } external })
                {
                    Add(graph._external, from, external, $"{Outer(type).FullName} -> {Outer(used).FullName}");
                    continue;
                }

                if (used.Scope != module && used.Module != module)
                {
                    continue;
                }

                var to = NamespaceOf(used);
                if (to is not null && to != from)
                {
                    graph.Add(from, to, $"{Outer(type).FullName} -> {Outer(used).FullName}");
                }
            }
        }

        return graph;
    }

    /// <summary>Groups of namespaces that reach each other (strongly connected components with more than one member).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var adjacency = _edges.Keys.GroupBy(e => e.From).ToDictionary(g => g.Key, g => g.Select(e => e.To).ToList());
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var cycles = new List<IReadOnlyList<string>>();

        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in adjacency.GetValueOrDefault(node) ?? [])
            {
                if (!index.TryGetValue(next, out var seen))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[node] = Math.Min(low[node], seen);
                }
            }

            if (low[node] == index[node])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != node);
                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    cycles.Add(component);
                }
            }
        }

        foreach (var node in Namespaces.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }

        return cycles;
    }

    private void Add(string from, string to, string example) => Add(_edges, from, to, example);

    private static void Add(Dictionary<(string From, string To), SortedSet<string>> edges, string from, string to, string example)
    {
        if (!edges.TryGetValue((from, to), out var examples))
        {
            edges[(from, to)] = examples = new SortedSet<string>(StringComparer.Ordinal);
        }

        examples.Add(example);
    }

    private static TypeReference Outer(TypeReference type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type;
    }

    /// <summary>"ChatFunctions.X" for a type in ChatFunctions.X or below; <see cref="Root"/> for the root and global
    /// namespaces; null for anything else (such as <c>System.Text.RegularExpressions.Generated</c>) and for the compiler's
    /// helper types.</summary>
    private static string? NamespaceOf(TypeReference type)
    {
        var outer = Outer(type);
        if (outer.Namespace.Length == 0 && outer.Name.StartsWith('<'))
        {
            return null; // the compiler's own helpers (<PrivateImplementationDetails>, collection-expression lists)
        }

        var ns = outer.Namespace;
        if (ns.Length == 0 || ns == Root)
        {
            return Root;
        }

        if (!ns.StartsWith(Root + ".", StringComparison.Ordinal))
        {
            return null;
        }

        var end = ns.IndexOf('.', Root.Length + 1);
        return end < 0 ? ns : ns[..end];
    }

    private static List<TypeReference> TypesUsedBy(TypeDefinition type)
    {
        var found = new List<TypeReference>();
        void Type(TypeReference? reference)
        {
            switch (reference)
            {
                case null:
                case GenericParameter:
                    return;
                case GenericInstanceType generic:
                    Type(generic.ElementType);
                    foreach (var argument in generic.GenericArguments)
                    {
                        Type(argument);
                    }

                    return;
                case TypeSpecification specification:
                    Type(specification.ElementType);
                    return;
                default:
                    found.Add(reference);
                    return;
            }
        }

        void Attributes(ICustomAttributeProvider provider)
        {
            foreach (var attribute in provider.CustomAttributes)
            {
                Type(attribute.AttributeType);
                foreach (var argument in attribute.ConstructorArguments.Concat(attribute.Properties.Select(p => p.Argument)))
                {
                    Type(argument.Value as TypeReference);
                }
            }
        }

        void Method(MethodReference method)
        {
            Type(method.DeclaringType);
            Type(method.ReturnType);
            foreach (var parameter in method.Parameters)
            {
                Type(parameter.ParameterType);
            }

            if (method is GenericInstanceMethod generic)
            {
                foreach (var argument in generic.GenericArguments)
                {
                    Type(argument);
                }
            }
        }

        Type(type.BaseType);
        Attributes(type);
        foreach (var implemented in type.Interfaces)
        {
            Type(implemented.InterfaceType);
        }

        foreach (var parameter in type.GenericParameters)
        {
            foreach (var constraint in parameter.Constraints)
            {
                Type(constraint.ConstraintType);
            }
        }

        foreach (var field in type.Fields)
        {
            Attributes(field);
            Type(field.FieldType);
        }

        foreach (var property in type.Properties)
        {
            Attributes(property);
            Type(property.PropertyType);
        }

        foreach (var @event in type.Events)
        {
            Type(@event.EventType);
        }

        foreach (var method in type.Methods)
        {
            Attributes(method);
            Method(method);
            foreach (var parameter in method.Parameters)
            {
                Attributes(parameter);
            }

            if (!method.HasBody)
            {
                continue;
            }

            foreach (var variable in method.Body.Variables)
            {
                Type(variable.VariableType);
            }

            foreach (var handler in method.Body.ExceptionHandlers)
            {
                Type(handler.CatchType);
            }

            foreach (var instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference operand:
                        Type(operand);
                        break;
                    case MethodReference operand:
                        Method(operand);
                        break;
                    case FieldReference operand:
                        Type(operand.DeclaringType);
                        Type(operand.FieldType);
                        break;
                    case CallSite operand:
                        Type(operand.ReturnType);
                        break;
                }
            }
        }

        return found;
    }
}
