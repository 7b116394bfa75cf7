using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using ChatFunctions.Configuration;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Models;

/// <summary>
/// The built-in demo model: a deterministic, markdown-rich reply that quotes the user's message, streamed at a
/// hosted model's pace. Markers in the message show how the page handles each ending:
/// [demo:error], [demo:ratelimit], [demo:filter], [demo:length], [demo:tokens=N], and [demo:think=S], which thinks S
/// seconds before the first token as a reasoning model does (reported as accepted, then reasoning tokens in usage).
/// </summary>
public sealed partial class DemoChatClient(IOptions<DemoOptions> options, TimeProvider time) : IChatClient
{
    public const string ModelName = "demo";

    /// <summary>Reasoning tokens the demo reports per second of thinking: a made-up but steady rate.</summary>
    public const int ReasoningTokensPerSecond = 50;

    /// <summary>The longest think a message may ask for: below the 230 s a request may last without an answer.</summary>
    public const int MaxThinkSeconds = 200;

    private readonly TimeSpan _tokenDelay = TimeSpan.FromMilliseconds(options.Value.TokenDelayMs);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            updates.Add(update);
        }

        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var userMessage = list.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? string.Empty;
        var script = TitlePrompt.IsTitleRequest(list)
            ? DemoScript.TitleFor(list.FirstOrDefault(m => m.Role == ChatRole.User)?.Text ?? string.Empty)
            : DemoScript.For(userMessage);
        var tokens = script.Tokens;
        var limit = options?.MaxOutputTokens is { } max && max < tokens.Count ? max : int.MaxValue;
        var responseId = "demo-" + Guid.NewGuid().ToString("N")[..12];

        if (script.Think > TimeSpan.Zero)
        {
            // The demo has no service to accept the request: it accepts at once and thinks.
            ModelCallProgress.Current?.Accepted();
            await Task.Delay(script.Think, time, cancellationToken);
        }

        var emitted = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (i == script.StopAt)
            {
                break;
            }

            if (emitted == limit)
            {
                script = script with { FinishReason = ChatFinishReason.Length, Fault = null };
                break;
            }

            if (_tokenDelay > TimeSpan.Zero)
            {
                await Task.Delay(_tokenDelay, time, cancellationToken);
            }
            else if (i % 64 == 63)
            {
                await Task.Yield();
            }

            cancellationToken.ThrowIfCancellationRequested();
            emitted++;
            yield return new ChatResponseUpdate(ChatRole.Assistant, tokens[i]) { ResponseId = responseId, ModelId = ModelName };
        }

        if (script.Fault is { } fault)
        {
            throw new ChatUpstreamException(fault);
        }

        var input = list.Sum(m => (m.Text?.Length ?? 0) + 3) / 4;
        // As reasoning models report them: reasoning tokens are output tokens too.
        long? reasoning = script.Think > TimeSpan.Zero ? (long)(script.Think.TotalSeconds * ReasoningTokensPerSecond) : null;
        var output = emitted + (reasoning ?? 0);
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            ModelId = ModelName,
            FinishReason = script.FinishReason,
            Contents = [new UsageContent(new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output, ReasoningTokenCount = reasoning })],
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType?.IsInstanceOfType(this) == true ? this
        : serviceKey is null && serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("demo", null, ModelName)
        : null;

    public void Dispose()
    {
    }

    /// <summary>The reply for one message; <see cref="StopAt"/> and <see cref="Fault"/> come from demo markers.</summary>
    internal sealed partial record DemoScript(IReadOnlyList<string> Tokens, int StopAt, ChatFinishReason FinishReason, StreamError? Fault)
    {
        [GeneratedRegex(@"\[demo:tokens=(\d{1,6})\]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
        private static partial Regex TokensMarker();

        [GeneratedRegex(@"\[demo:think=(\d{1,3})\]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
        private static partial Regex ThinkMarker();

        /// <summary>How long the model thinks before its first token ([demo:think=S], at most <see cref="MaxThinkSeconds"/>).</summary>
        public TimeSpan Think { get; init; }

        public static DemoScript For(string message)
        {
            var thinkMatch = ThinkMarker().Match(message);
            var think = thinkMatch.Success
                ? TimeSpan.FromSeconds(Math.Min(MaxThinkSeconds, int.Parse(thinkMatch.Groups[1].ValueSpan, CultureInfo.InvariantCulture)))
                : TimeSpan.Zero;
            return Endings(message) with { Think = think };
        }

        [GeneratedRegex(@"\S+\s*|\s+", RegexOptions.CultureInvariant)]
        private static partial Regex Token();

        [GeneratedRegex(@"\[demo:[^\]]*\]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
        private static partial Regex AnyMarker();

        /// <summary>The demo's answer to the title question: the first message's first words, its markers left out,
        /// as a model names a chat after what the user asked.</summary>
        public static DemoScript TitleFor(string firstMessage)
        {
            var words = AnyMarker().Replace(firstMessage, " ").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Take(6).ToArray();
            var title = words.Length == 0 ? "Demo chat" : string.Join(' ', words).TrimEnd('?', '.', '!', ',', ':', ';');
            if (title.Length > 0)
            {
                title = char.ToUpperInvariant(title[0]) + title[1..];
            }

            return new DemoScript(Tokenize(title), -1, ChatFinishReason.Stop, null);
        }

        private static DemoScript Endings(string message)
        {
            var lengthMatch = TokensMarker().Match(message);
            var tokens = lengthMatch.Success
                ? NumberedTokens(int.Parse(lengthMatch.Groups[1].ValueSpan, CultureInfo.InvariantCulture))
                : Tokenize(Reply(message));

            var cut = Math.Max(1, tokens.Count * 2 / 5);
            if (Has(message, "[demo:error]"))
            {
                return new(tokens, cut, ChatFinishReason.Stop,
                    new StreamError(StreamError.Codes.UpstreamUnavailable, "The demo model failed on purpose ([demo:error]).", true, TimeSpan.FromSeconds(1)));
            }

            if (Has(message, "[demo:ratelimit]"))
            {
                return new(tokens, cut, ChatFinishReason.Stop,
                    new StreamError(StreamError.Codes.RateLimited, "The demo model is rate limiting on purpose ([demo:ratelimit]).", true, TimeSpan.FromSeconds(5)));
            }

            if (Has(message, "[demo:filter]"))
            {
                return new(tokens, cut, ChatFinishReason.ContentFilter, null);
            }

            if (Has(message, "[demo:length]"))
            {
                return new(tokens, tokens.Count * 3 / 5, ChatFinishReason.Length, null);
            }

            return new(tokens, -1, ChatFinishReason.Stop, null);
        }

        private static bool Has(string message, string marker) => message.Contains(marker, StringComparison.OrdinalIgnoreCase);

        private static List<string> Tokenize(string text)
        {
            var tokens = new List<string>();
            foreach (var match in Token().EnumerateMatches(text))
            {
                tokens.Add(text.Substring(match.Index, match.Length));
            }

            return tokens;
        }

        private static List<string> NumberedTokens(int count)
        {
            var tokens = new List<string>(count);
            for (var i = 1; i <= count; i++)
            {
                var separator = i % 100 == 0 ? "\n\n" : i % 12 == 0 ? "\n" : " ";
                tokens.Add(string.Create(CultureInfo.InvariantCulture, $"token{i}{separator}"));
            }

            return tokens;
        }

        internal static string Reply(string message)
        {
            var words = message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            var quote = new StringBuilder();
            foreach (var line in message.Trim().Split('\n'))
            {
                quote.Append("> ").Append(line.TrimEnd('\r')).Append('\n');
            }

            return string.Create(CultureInfo.InvariantCulture, $$"""
                Hello! I am the **ChatFunctions demo model**: no Azure account needed, and every reply streams token by token. You wrote:

                {{quote}}
                That is **{{words}} word{{(words == 1 ? "" : "s")}}** and {{message.Length}} characters. Here is the path your message took:

                1. The page sent it with `fetch` as a POST to `/api/chat/stream`, together with the conversation so far.
                2. The function validated it and opened a Server-Sent Events stream.
                3. Each piece of this reply is written as its own `data:` frame and flushed at once.

                The relay at the heart of the app looks like this:

                ```csharp
                await foreach (var update in chatClient.GetStreamingResponseAsync(messages, options, cancellationToken))
                {
                    await writer.WriteChunkAsync(update.Text, cancellationToken);
                }
                ```

                To talk to a real model, set `AZURE_OPENAI_ENDPOINT` and `AZURE_OPENAI_CHAT_DEPLOYMENT` (or `OPENAI_BASE_URL` and `OPENAI_MODEL` for Ollama, Foundry Local or LM Studio) and restart. Try `[demo:error]` or `[demo:filter]` in a message to see how the page handles a failed or filtered reply.
                """);
        }
    }
}
