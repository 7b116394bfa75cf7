using System.Buffers;
using ChatFunctions.Chat;
using Microsoft.AspNetCore.Http;

namespace ChatFunctions.Http;

/// <summary>Reads a request body up to a limit, so an oversized body is refused without being buffered whole.</summary>
public static class BoundedBody
{
    /// <summary>The bytes, or null with <c>TooLarge</c> true when the body passes <paramref name="maxBytes"/>, or
    /// null with a rejection when the server refused the body itself (bad chunking, too slow).</summary>
    public static async Task<(byte[]? Bytes, bool TooLarge, Refusal? Unreadable)> ReadAsync(
        Stream body, long? contentLength, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (contentLength > maxBytes)
        {
            return (null, true, null);
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(contentLength ?? 16 * 1024, maxBytes) + 1);
        try
        {
            while (true)
            {
                var read = await body.ReadAsync(buffer.GetMemory(16 * 1024), cancellationToken);
                if (read == 0)
                {
                    return (buffer.WrittenSpan.ToArray(), false, null);
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > maxBytes)
                {
                    return (null, true, null);
                }
            }
        }
        catch (BadHttpRequestException)
        {
            return (null, false, Refusal.Invalid("body", "The request body could not be read."));
        }
    }
}
