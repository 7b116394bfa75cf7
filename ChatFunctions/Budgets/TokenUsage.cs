using ChatFunctions.Chat;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Budgets;

/// <summary>How many tokens a finished stream spent, for <see cref="ReplySpend.SettleAsync"/>.</summary>
public static class TokenUsage
{
    /// <summary>
    /// The model's own count when it reported one (total, else input + output). Without a report (a stream stopped or
    /// left before the usage chunk, a server that sends none) an estimate: the prompt as <see cref="InputTokens"/> counts
    /// it for the reservation (the model bills the whole prompt once it started) plus one token per streamed chunk
    /// (OpenAI-family servers stream about a token a chunk). A failure before any chunk spent nothing we can see (the
    /// model refused), so it counts 0.
    /// </summary>
    public static long ToRecord(ChatRequest request, string systemPrompt, StreamSummary summary)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(summary);
        if (Reported(summary.Usage) is { } reported)
        {
            return reported;
        }

        if (summary.FinishReason == StreamFinishReason.Error && summary.Chunks == 0)
        {
            return 0;
        }

        return InputTokens.Count(request, systemPrompt ?? "") + summary.Chunks;
    }

    private static long? Reported(UsageDetails? usage) =>
        usage is null ? null
        : usage.TotalTokenCount is > 0 and var total ? total
        : usage.InputTokenCount is > 0 || usage.OutputTokenCount is > 0 ? (usage.InputTokenCount ?? 0) + (usage.OutputTokenCount ?? 0)
        : null;
}
