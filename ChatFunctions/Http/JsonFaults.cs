using System.Text.Json;

namespace ChatFunctions.Http;

/// <summary>What made System.Text.Json refuse a chat request.</summary>
internal enum JsonFault
{
    /// <summary>Not JSON, or something after the value: the reader's own error.</summary>
    Syntax,

    /// <summary>A value of a type the contract does not take at its path.</summary>
    WrongType,

    /// <summary>A key given twice in one object (in any letter case).</summary>
    DuplicateKey,
}

/// <summary>
/// Tells the faults apart from the exception's structure, never its (English, version-dependent) message: the
/// reader's syntax errors come wrapped around the reader's own exception; the others carry the path
/// (<see cref="JsonException.Path"/>) of the value being read, and the value there either has the kind the contract
/// expects (so the key was given twice) or not (the wrong type).
/// </summary>
internal static class JsonFaults
{
    public static JsonFault Classify(JsonException exception, ReadOnlySpan<byte> json, JsonValueKind root)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception.InnerException is JsonException || exception.Path is null)
        {
            return JsonFault.Syntax;
        }

        var found = KindAt(json, exception.Path);
        if (found is null)
        {
            return JsonFault.Syntax;
        }

        return found == ExpectedKind(exception.Path, root) ? JsonFault.DuplicateKey : JsonFault.WrongType;
    }

    /// <summary>The kind the request contract takes at <paramref name="path"/>: the root as given, an array for
    /// <c>history</c>, an object for each of its items, a string for <c>message</c>, <c>role</c> and <c>content</c>.</summary>
    public static JsonValueKind ExpectedKind(string? path, JsonValueKind root)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return root;
        }

        if (path.EndsWith(']'))
        {
            return JsonValueKind.Object;
        }

        var name = path[(path.LastIndexOf('.') + 1)..];
        return name.Equals("history", StringComparison.OrdinalIgnoreCase) ? JsonValueKind.Array : JsonValueKind.String;
    }

    /// <summary>The kind of the first value at a path like <c>$.history[1].role</c> (names ignoring case, as the
    /// contract matches them); null when the document cannot be read or has nothing there.</summary>
    private static JsonValueKind? KindAt(ReadOnlySpan<byte> json, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            var element = document.RootElement;
            var rest = path.AsSpan(1);
            while (!rest.IsEmpty)
            {
                if (rest[0] == '.')
                {
                    var end = rest[1..].IndexOfAny('.', '[');
                    var name = end < 0 ? rest[1..] : rest[1..(end + 1)];
                    rest = end < 0 ? [] : rest[(end + 1)..];
                    if (element.ValueKind != JsonValueKind.Object || !TryGetFirst(element, name, out element))
                    {
                        return null;
                    }
                }
                else if (rest[0] == '[')
                {
                    var close = rest.IndexOf(']');
                    if (close < 0 || !int.TryParse(rest[1..close], out var index)
                        || element.ValueKind != JsonValueKind.Array || index >= element.GetArrayLength())
                    {
                        return null;
                    }

                    element = element[index];
                    rest = rest[(close + 1)..];
                }
                else
                {
                    return null;
                }
            }

            return element.ValueKind;
        }
    }

    private static bool TryGetFirst(JsonElement element, ReadOnlySpan<char> name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (name.Equals(property.Name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}
