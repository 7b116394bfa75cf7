using Microsoft.Extensions.AI;

namespace ChatFunctions.Models;

/// <summary>
/// How a conversation's title is asked of the model: the instructions, then the first exchange as it happened, then
/// one question. The exchange goes as user and assistant turns (not pasted into the instructions), so a message that
/// gives orders can at most steer its own chat's title, which is sanitized anyway.
/// </summary>
public static class TitlePrompt
{
    public const string Instructions =
        "You name chat conversations. Answer with a title for the conversation so far: 2 to 6 words, in the language of " +
        "the user's message, plain text on one line, no quotes, no markdown, no final punctuation.";

    public const string Ask = "Title for this conversation?";

    public static IList<ChatMessage> Messages(string message, string reply) =>
    [
        new(ChatRole.System, Instructions),
        new(ChatRole.User, message),
        new(ChatRole.Assistant, reply),
        new(ChatRole.User, Ask),
    ];

    /// <summary>True for a title request (what the demo model answers differently).</summary>
    public static bool IsTitleRequest(IReadOnlyList<ChatMessage> messages) =>
        messages is [{ } system, ..] && system.Role == ChatRole.System && system.Text == Instructions;
}
