using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace ChatFunctions.Configuration;

/// <summary>Conversation sync for signed-in users and generated titles: how large and how many, and how long a title may be.</summary>
public sealed class ConversationOptions
{
    /// <summary>The largest conversation document a signed-in user may store, in bytes of UTF-8 JSON; larger PUTs get 413.</summary>
    [ConfigurationKeyName("CHAT_CONVERSATION_MAX_BYTES")]
    [Range(16 * 1024, 16 * 1024 * 1024)]
    public int MaxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Conversations one signed-in user may keep (deleted ones not counted); creating one more gets 409.</summary>
    [ConfigurationKeyName("CHAT_CONVERSATION_MAX_COUNT")]
    [Range(1, 100_000)]
    public int MaxCount { get; set; } = 1_000;

    /// <summary>The output limit of the title call (max_completion_tokens): a reasoning model spends some of it thinking.</summary>
    [ConfigurationKeyName("CHAT_TITLE_MAX_OUTPUT_TOKENS")]
    [Range(8, 1_024)]
    public int TitleMaxOutputTokens { get; set; } = 48;
}
