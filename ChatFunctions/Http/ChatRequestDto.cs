using System.Text.Json.Serialization;

namespace ChatFunctions.Http;

/// <summary>The body as sent, before validation: every field nullable so a missing one is reported by name.</summary>
internal sealed class ChatRequestDto
{
    public string? Message { get; set; }

    public List<ChatTurnDto?>? History { get; set; }
}

internal sealed class ChatTurnDto
{
    public string? Role { get; set; }

    public string? Content { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    // {"message":"a","MESSAGE":"b"} must not mean one thing to us and another to a filter in front of us.
    AllowDuplicateProperties = false,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(ChatRequestDto))]
[JsonSerializable(typeof(List<ChatTurnDto?>))]
internal sealed partial class ChatRequestJsonContext : JsonSerializerContext;
