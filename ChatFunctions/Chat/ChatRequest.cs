namespace ChatFunctions.Chat;

/// <summary>A validated chat turn: the user's new message and the earlier turns the client kept.</summary>
public sealed record ChatRequest(string Message, IReadOnlyList<ChatTurn> History);

/// <summary>One earlier turn. Only user and assistant turns come from clients; the server owns the system prompt.</summary>
public sealed record ChatTurn(ChatTurnRole Role, string Content);

public enum ChatTurnRole
{
    User,
    Assistant,
}
