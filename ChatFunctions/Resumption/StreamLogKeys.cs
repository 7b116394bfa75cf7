using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace ChatFunctions.Resumption;

/// <summary>What the stores accept as keys and how they write what they keep, so that a stream id can never
/// become a path or header, and both stores round-trip the same values.</summary>
internal static class StreamLogKeys
{
    /// <summary>Longest owner key kept (it is a hash of the caller; blob metadata is limited to 8 KiB in all).</summary>
    public const int MaxOwnerKeyLength = 512;

    /// <summary>Throws unless <paramref name="streamId"/> is a stream id (<see cref="StreamId.IsValid"/>).</summary>
    public static void EnsureValidStreamId(string streamId)
    {
        ArgumentNullException.ThrowIfNull(streamId);
        if (!StreamId.IsValid(streamId))
        {
            throw new ArgumentException("A stream id is 22 characters of base64url ([A-Za-z0-9_-]).", nameof(streamId));
        }
    }

    public static void EnsureValidOwnerKey(string? ownerKey)
    {
        if (ownerKey is not null && (ownerKey.Length == 0 || ownerKey.Length > MaxOwnerKeyLength))
        {
            throw new ArgumentException($"An owner key is null or 1 to {MaxOwnerKeyLength} characters.", nameof(ownerKey));
        }
    }

    public static void EnsureValidOffset(long offset, string name)
    {
        if (offset < 0)
        {
            throw new ArgumentOutOfRangeException(name, offset, "An offset into a stream log is never negative.");
        }
    }

    /// <summary>base64url of the UTF-8 bytes: any key survives a metadata header unchanged and cannot inject one.</summary>
    public static string EncodeOwnerKey(string ownerKey) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(ownerKey));

    public static string? DecodeOwnerKey(string? encoded)
    {
        if (string.IsNullOrEmpty(encoded))
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(encoded));
        }
        catch (FormatException)
        {
            // Not written by us: treat the log as ownerless rather than failing every read of it.
            return null;
        }
    }

    public static string FormatTime(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTime(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time) ? time : null;
}
