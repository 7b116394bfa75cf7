using System.Globalization;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Http;

/// <summary>Reads a conversation save's body: JSON (application/json or a +json type) of at most
/// CHAT_CONVERSATION_MAX_BYTES, refused without buffering more. What the document must hold is the service's check.</summary>
public sealed class ConversationBodyReader(IOptions<ConversationOptions> options)
{
    private readonly int _maxBytes = options.Value.MaxBytes;

    private readonly string _tooLarge =
        $"A conversation may take {options.Value.MaxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes of JSON on this deployment; this one is larger. It stays in this browser.";

    public Task<(byte[]? Json, Refusal? Rejection)> ReadAsync(HttpRequest request, CancellationToken cancellationToken) =>
        JsonBody.ReadAsync(request, _maxBytes, "Send the conversation as application/json.", _tooLarge, cancellationToken);
}
