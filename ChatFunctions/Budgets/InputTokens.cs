using ChatFunctions.Chat;
using Microsoft.ML.Tokenizers;

namespace ChatFunctions.Budgets;

/// <summary>
/// The input tokens a request will cost, counted before the model is called with the o200k_base tokenizer (the
/// encoding of the GPT-4o, GPT-4.1 and GPT-5 families; Microsoft.ML.Tokenizers with its data package), plus the chat
/// format's framing per message. For other model families it is a close estimate; the settlement replaces it with the
/// model's own count either way.
/// </summary>
public static class InputTokens
{
    /// <summary>The chat format's framing: OpenAI documents 3 per message and 3 to prime the reply; kept generous so a
    /// reservation is never below the model's count for o200k models.</summary>
    public const int PerMessage = 8;

    public const int PerRequest = 8;

    // Loads the ~3.6 MB vocabulary once, on the first budgeted request (not at start: budgets are often off).
    private static readonly Lazy<TiktokenTokenizer> Tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public static long Count(ChatRequest request, string systemPrompt)
    {
        ArgumentNullException.ThrowIfNull(request);
        var tokenizer = Tokenizer.Value;
        long count = PerRequest + (PerMessage * (2L + request.History.Count));
        count += tokenizer.CountTokens(systemPrompt ?? "");
        count += tokenizer.CountTokens(request.Message);
        foreach (var turn in request.History)
        {
            count += tokenizer.CountTokens(turn.Content);
        }

        return count;
    }
}
