using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatFunctions.Shares;

/// <summary>One message of a snapshot: who said it and the text shown, nothing else (no reasoning, metrics or ids).</summary>
public sealed record SharedMessageDto(string Role, string Content);

/// <summary>What GET /api/shares/{id} answers: the snapshot, never its owner or their conversation's id.</summary>
public sealed record SnapshotDto(string Id, string? Title, long CreatedAt, IReadOnlyList<SharedMessageDto> Messages);

/// <summary>One of the caller's shares (POST /api/shares answers one, GET /api/shares lists them).</summary>
public sealed record ShareDto(string Id, string ConversationId, string? Title, long CreatedAt, string Link);

public sealed record ShareListDto(IReadOnlyList<ShareDto> Items);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SnapshotDto))]
[JsonSerializable(typeof(ShareDto))]
[JsonSerializable(typeof(ShareListDto))]
internal sealed partial class ShareJsonContext : JsonSerializerContext;
