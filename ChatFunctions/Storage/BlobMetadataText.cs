using System.Text;

namespace ChatFunctions.Storage;

/// <summary>Free text (a title) in blob metadata, whose values must be ASCII: the text's UTF-8 in base64.</summary>
public static class BlobMetadataText
{
    public static string Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The text under <paramref name="key"/>; null when absent or not base64.</summary>
    public static string? Decode(IDictionary<string, string>? metadata, string key)
    {
        if (metadata is null || !metadata.TryGetValue(key, out var encoded))
        {
            return null;
        }

        var buffer = new byte[encoded.Length];
        return Convert.TryFromBase64String(encoded, buffer, out var written) ? Encoding.UTF8.GetString(buffer, 0, written) : null;
    }
}
