using System.Text.Json;
using System.Text.Json.Serialization;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Titles;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ChatFunctions.Http;

/// <summary>
/// Reads POST /api/chat/title's body, {"message", "reply"} as JSON of bounded size, into a <see cref="TitleRequest"/>:
/// the message within the chat's own limit, the start of its reply within <see cref="TitleService.MaxReplyChars"/>.
/// </summary>
public sealed class TitleRequestReader(IOptions<ChatServiceOptions> chatOptions)
{
    private readonly ChatServiceOptions _chat = chatOptions.Value;

    private int MaxBodyBytes => ((_chat.MaxMessageChars + TitleService.MaxReplyChars) * 3) + 1024;

    public async Task<(TitleRequest? Request, Refusal? Rejection)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            || !string.Equals(media.MediaType.Value, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, new Refusal(RefusalKind.UnsupportedFormat, "content-type", "Send the title request as application/json."));
        }

        var read = await BoundedBody.ReadAsync(request.Body, request.ContentLength, MaxBodyBytes, cancellationToken);
        if (read.TooLarge)
        {
            return (null, new Refusal(RefusalKind.TooLarge, "body",
                $"A title request is at most {MaxBodyBytes} bytes: the first message and the start of its reply."));
        }

        if (read.Unreadable is { } unreadable)
        {
            return (null, unreadable);
        }

        if (read.Bytes!.Length == 0)
        {
            return (null, Refusal.Invalid("body", "The request body is empty; send {\"message\": \"...\", \"reply\": \"...\"}."));
        }

        TitleRequestDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize(read.Bytes, TitleJsonContext.Default.TitleRequestDto);
        }
        catch (JsonException ex)
        {
            var field = ex.Path is "$.message" or "$.reply" ? ex.Path[2..] : "body";
            return (null, Refusal.Invalid(field, field == "body"
                ? $"The JSON is malformed or not an object (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})."
                : $"{field} must be a string."));
        }

        if (dto is null)
        {
            return (null, Refusal.Invalid("body", "The request body must be a JSON object."));
        }

        if (string.IsNullOrWhiteSpace(dto.Message))
        {
            return (null, Refusal.Invalid("message", "message (the conversation's first message) is required and must not be empty."));
        }

        if (dto.Message.Length > _chat.MaxMessageChars)
        {
            return (null, Refusal.Invalid("message", $"message is {dto.Message.Length} characters; the limit is {_chat.MaxMessageChars}."));
        }

        if (string.IsNullOrWhiteSpace(dto.Reply))
        {
            return (null, Refusal.Invalid("reply", "reply (the first reply) is required and must not be empty."));
        }

        if (dto.Reply.Length > TitleService.MaxReplyChars)
        {
            return (null, Refusal.Invalid("reply", $"reply is {dto.Reply.Length} characters; send at most its first {TitleService.MaxReplyChars}."));
        }

        return (new TitleRequest(dto.Message, dto.Reply), null);
    }
}

internal sealed record TitleRequestDto(string? Message, string? Reply);

internal sealed record TitleResponseDto(string Title);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(TitleRequestDto))]
[JsonSerializable(typeof(TitleResponseDto))]
internal sealed partial class TitleJsonContext : JsonSerializerContext;
