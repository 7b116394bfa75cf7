using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;

namespace ChatFunctions.Resumption;

/// <summary>
/// Stream ids and SSE event ids. A stream id is 128 random bits in base64url (22 characters): unguessable, so knowing
/// it is what lets a client resume. Each frame's SSE id is <c>&lt;streamId&gt;:&lt;seq&gt;</c>, so a
/// <c>Last-Event-ID</c> alone names the stream and the last frame the client has.
/// </summary>
public static class StreamId
{
    public const int Length = 22;
    private const int RandomBytes = 16;

    /// <summary>Longest Last-Event-ID accepted: the id, a colon and a frame number well past any real stream.</summary>
    public const int MaxEventIdLength = Length + 1 + 10;

    public static string New()
    {
        Span<byte> bytes = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>Exactly 22 base64url characters: nothing else ever becomes a key or a blob name.</summary>
    public static bool IsValid(ReadOnlySpan<char> value)
    {
        if (value.Length != Length)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses <c>&lt;streamId&gt;:&lt;seq&gt;</c> with seq a frame number from 1 up.</summary>
    public static bool TryParseEventId(string? value, out string streamId, out int sequence)
    {
        streamId = "";
        sequence = 0;
        if (value is null || value.Length > MaxEventIdLength)
        {
            return false;
        }

        var span = value.AsSpan().Trim();
        var colon = span.IndexOf(':');
        if (colon != Length || !IsValid(span[..colon]))
        {
            return false;
        }

        var digits = span[(colon + 1)..];
        if (digits.Length is 0 or > 9 || !digits.ContainsOnlyDigits()
            || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out sequence) || sequence < 1)
        {
            sequence = 0;
            return false;
        }

        streamId = span[..colon].ToString();
        return true;
    }

    private static bool ContainsOnlyDigits(this ReadOnlySpan<char> span) => !span.ContainsAnyExceptInRange('0', '9');
}
