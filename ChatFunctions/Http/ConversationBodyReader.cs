using System.Globalization;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ChatFunctions.Http;

/// <summary>Reads a conversation save's body: JSON (application/json or a +json type) of at most
/// CHAT_CONVERSATION_MAX_BYTES, refused without buffering more. What the document must hold is the service's check.</summary>
public sealed class ConversationBodyReader(IOptions<ConversationOptions> options)
{
    private readonly ConversationOptions _options = options.Value;

    public async Task<(byte[]? Json, Refusal? Rejection)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IsJson(request.ContentType))
        {
            return (null, new Refusal(RefusalKind.UnsupportedFormat, "content-type", "Send the conversation as application/json."));
        }

        var body = await BoundedBody.ReadAsync(request.Body, request.ContentLength, _options.MaxBytes, cancellationToken);
        if ((body.TooLarge ? TooLarge() : body.Unreadable) is { } badBody)
        {
            return (null, badBody);
        }

        return (body.Bytes, null);
    }

    private Refusal TooLarge() =>
        new(RefusalKind.TooLarge, "body",
            $"A conversation may take {_options.MaxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes of JSON on this deployment; this one is larger. It stays in this browser.");

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Value is { } type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)));
}
