using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatFunctions.Conversations;

/// <summary>What a deleted conversation's id answers with: the id, deleted, and when (updatedAt equals deletedAt).</summary>
internal sealed record TombstoneDto(string Id, bool Deleted, long DeletedAt, long UpdatedAt);

/// <summary>One row of GET /api/conversations.</summary>
internal sealed record ConversationSummaryDto(string Id, string? Title, long UpdatedAt, [property: JsonPropertyName("etag")] string ETag, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Deleted);

/// <summary>What a save answers: the new version.</summary>
internal sealed record SavedDto([property: JsonPropertyName("etag")] string ETag);

internal sealed record ConversationListDto(IReadOnlyList<ConversationSummaryDto> Items, string? Next);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(TombstoneDto))]
[JsonSerializable(typeof(ConversationListDto))]
[JsonSerializable(typeof(SavedDto))]
internal sealed partial class ConversationJsonContext : JsonSerializerContext;
