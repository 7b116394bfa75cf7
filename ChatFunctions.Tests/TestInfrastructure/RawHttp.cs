using System.Net.Sockets;
using System.Text;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>A response as it came off the socket: status, headers (names lower-cased) and body.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var value) ? value : null;
}

/// <summary>
/// HTTP/1.1 over a plain socket, for requests HttpClient refuses to send (malformed lines, stalled bodies) and for
/// answers written by the server itself rather than by the app.
/// </summary>
public static class RawHttp
{
    /// <summary>Sends <paramref name="head"/> (and <paramref name="body"/>), optionally keeps the socket open without
    /// sending more, and reads until the server closes the connection or a complete response arrived.</summary>
    public static async Task<RawResponse> SendAsync(Uri server, string head, byte[]? body = null, TimeSpan? timeout = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head));
        if (body is not null)
        {
            await stream.WriteAsync(body);
        }

        await stream.FlushAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, cancel.Token);
            }
            catch (IOException)
            {
                break; // reset by the server after its answer
            }

            if (read == 0)
            {
                break;
            }

            received.Write(buffer, 0, read);
            if (TryParse(received.ToArray(), out var complete))
            {
                return complete;
            }
        }

        return TryParse(received.ToArray(), out var response) ? response
            : throw new InvalidOperationException($"no complete response: '{Encoding.Latin1.GetString(received.ToArray())}'");
    }

    private static bool TryParse(byte[] data, out RawResponse response)
    {
        response = null!;
        var text = Encoding.UTF8.GetString(data);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon].Trim().ToLowerInvariant();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var earlier) ? earlier + ", " + value : value;
        }

        var body = text[(end + 4)..];
        if (headers.TryGetValue("content-length", out var length))
        {
            if (Encoding.UTF8.GetByteCount(body) < int.Parse(length, System.Globalization.CultureInfo.InvariantCulture))
            {
                return false;
            }
        }
        else if (headers.TryGetValue("transfer-encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            if (!body.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
            {
                return false;
            }

            body = Dechunk(body);
        }

        response = new RawResponse(status, headers, body);
        return true;
    }

    private static string Dechunk(string chunked)
    {
        var result = new StringBuilder();
        var position = 0;
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n", position, StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[position..lineEnd].Split(';')[0], 16);
            if (size == 0)
            {
                return result.ToString();
            }

            result.Append(chunked, lineEnd + 2, size);
            position = lineEnd + 2 + size + 2;
        }
    }
}
