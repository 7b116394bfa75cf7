using System.Globalization;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Http;

/// <summary>Reads the body of a share's create: JSON (application/json or a +json type) of at most
/// CHAT_CONVERSATION_MAX_BYTES, the conversations' own bound, refused without buffering more. What the snapshot keeps
/// is the service's check.</summary>
public sealed class ShareBodyReader(IOptions<ConversationOptions> options)
{
    private readonly int _maxBytes = options.Value.MaxBytes;

    private readonly string _tooLarge =
        $"A shared conversation may take {options.Value.MaxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes of JSON on this deployment; this one is larger.";

    public Task<(byte[]? Json, Refusal? Rejection)> ReadAsync(HttpRequest request, CancellationToken cancellationToken) =>
        JsonBody.ReadAsync(request, _maxBytes, "Send the conversation to share as application/json.", _tooLarge, cancellationToken);
}
