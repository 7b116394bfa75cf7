using System.Buffers;
using System.Text;
using System.Text.Json;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ChatFunctions.Http;

public interface IChatRequestReader
{
    /// <summary>Reads and validates a POST JSON body or the GET query (the seed's EventSource contract).</summary>
    Task<ChatRequestReadResult> ReadAsync(HttpRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Reads at most the configured number of bytes, so an oversized body is refused without buffering it whole,
/// and validates the result against the configured limits. A rejected request never reaches the model.
/// </summary>
public sealed class ChatRequestReader(IOptions<ChatServiceOptions> options) : IChatRequestReader
{
    private readonly ChatServiceOptions _options = options.Value;

    public async Task<ChatRequestReadResult> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (HttpMethods.IsGet(request.Method))
        {
            return ReadQuery(request.Query);
        }

        if (!IsJson(request.ContentType))
        {
            return new Refusal(RefusalKind.UnsupportedFormat, "content-type",
                "Send the chat request as application/json.");
        }

        if (request.ContentLength > _options.MaxRequestBytes)
        {
            return TooLarge();
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(_options.MaxRequestBytes + 1, 64 * 1024));
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > _options.MaxRequestBytes)
                    {
                        return TooLarge();
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _options.MaxRequestBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read;
                try
                {
                    read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                }
                catch (BadHttpRequestException ex)
                {
                    // The server refused the body (bad chunking, too slow, over its own size limit): say so as a problem.
                    return BodyRefusedByServer(ex);
                }

                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > _options.MaxRequestBytes)
                {
                    return TooLarge();
                }
            }

            return ReadJson(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal ChatRequestReadResult ReadJson(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return Refusal.Invalid("body", "The request body is empty; send {\"message\": \"...\"}.");
        }

        ChatRequestDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize(body, ChatRequestJsonContext.Default.ChatRequestDto);
        }
        catch (JsonException ex)
        {
            var fault = JsonFaults.Classify(ex, body, JsonValueKind.Object);
            return Refusal.Invalid(FieldOf(fault, ex, "body"), DescribeJsonError(fault, ex, JsonValueKind.Object));
        }

        if (dto is null)
        {
            return Refusal.Invalid("body", "The request body must be a JSON object.");
        }

        return Validate(dto.Message, dto.History);
    }

    internal ChatRequestReadResult ReadQuery(IQueryCollection query)
    {
        List<ChatTurnDto?>? history = null;
        var historyText = query["history"].ToString();
        if (!string.IsNullOrWhiteSpace(historyText))
        {
            try
            {
                history = JsonSerializer.Deserialize(historyText, ChatRequestJsonContext.Default.ListChatTurnDto);
            }
            catch (JsonException ex)
            {
                var fault = JsonFaults.Classify(ex, Encoding.UTF8.GetBytes(historyText), JsonValueKind.Array);
                var inner = FieldOf(fault, ex, root: "");
                return Refusal.Invalid("history" + inner,
                    "The history query parameter must be a URL-encoded JSON array of {\"role\", \"content\"} objects. " + DescribeJsonError(fault, ex, JsonValueKind.Array));
            }
        }

        var messages = query["message"];
        if (messages.Count > 1)
        {
            return Refusal.Invalid("message", "Send exactly one message parameter.");
        }

        return Validate(messages.Count == 1 ? messages[0] : null, history);
    }

    private ChatRequestReadResult Validate(string? message, List<ChatTurnDto?>? history)
    {
        if (message is null)
        {
            return Refusal.Invalid("message", "The message field is required.");
        }

        message = ChatText.Clean(message);
        if (ChatText.IsBlank(message))
        {
            return Refusal.Invalid("message",
                "The message must not be empty: it has no visible characters (only whitespace, control or zero-width characters).");
        }

        if (message.Length > _options.MaxMessageChars)
        {
            return Refusal.Invalid("message",
                $"The message has {message.Length} characters; the limit is {_options.MaxMessageChars}.");
        }

        if (history is null || history.Count == 0)
        {
            return new ChatRequest(message, []);
        }

        if (history.Count > _options.MaxHistoryItems)
        {
            return Refusal.Invalid("history",
                $"The history has {history.Count} items; the limit is {_options.MaxHistoryItems}. Send only the most recent turns.");
        }

        var turns = new ChatTurn[history.Count];
        long totalChars = 0;
        for (var i = 0; i < history.Count; i++)
        {
            var item = history[i];
            if (item is null)
            {
                return Refusal.Invalid($"history[{i}]", "Each history item must be an object with role and content.");
            }

            ChatTurnRole role;
            switch (item.Role)
            {
                case null:
                    return Refusal.Invalid($"history[{i}].role", "The role is required: \"user\" or \"assistant\".");
                case var r when r.Equals("user", StringComparison.OrdinalIgnoreCase):
                    role = ChatTurnRole.User;
                    break;
                case var r when r.Equals("assistant", StringComparison.OrdinalIgnoreCase):
                    role = ChatTurnRole.Assistant;
                    break;
                case var r when r.Equals("system", StringComparison.OrdinalIgnoreCase):
                    return Refusal.Invalid($"history[{i}].role", "The system role is reserved for the server's own prompt.");
                default:
                    return Refusal.Invalid($"history[{i}].role", "Unknown role; use \"user\" or \"assistant\".");
            }

            if (item.Content is null)
            {
                return Refusal.Invalid($"history[{i}].content", "The content is required.");
            }

            var content = ChatText.Clean(item.Content);
            if (ChatText.IsBlank(content))
            {
                return Refusal.Invalid($"history[{i}].content",
                    "The content must not be empty: it has no visible characters (only whitespace, control or zero-width characters). Leave such turns out.");
            }

            totalChars += content.Length;
            if (totalChars > _options.MaxHistoryChars)
            {
                return Refusal.Invalid("history",
                    $"The history is longer than {_options.MaxHistoryChars} characters. Send only the most recent turns.");
            }

            turns[i] = new ChatTurn(role, content);
        }

        return new ChatRequest(message, turns);
    }

    private Refusal BodyRefusedByServer(BadHttpRequestException ex) => ex.StatusCode switch
    {
        StatusCodes.Status408RequestTimeout => new Refusal(RefusalKind.TooSlow, "body",
            "The request body arrived too slowly; send it at once."),
        StatusCodes.Status413PayloadTooLarge => TooLarge(),
        _ => Refusal.Invalid("body",
            "The request body is malformed at the HTTP level (for example a broken chunked encoding)."),
    };

    private Refusal TooLarge() => new(RefusalKind.TooLarge, "body",
        $"The request body is larger than {_options.MaxRequestBytes} bytes.");

    private static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            return false;
        }

        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Turns System.Text.Json's "$.history[0].role" into "history[0].role"; the root becomes "body".</summary>
    internal static string FieldFromJsonPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return "body";
        }

        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..]
            : path.StartsWith('$') ? path[1..]
            : path;
    }

    /// <summary>A value of the wrong type or a repeated key names its field; broken JSON syntax names the whole document.</summary>
    private static string FieldOf(JsonFault fault, JsonException ex, string root)
    {
        if (fault == JsonFault.Syntax)
        {
            return root;
        }

        var field = FieldNamed(fault, ex);
        return root.Length == 0 ? (field == "body" ? "" : field) : field;
    }

    /// <summary>The field as our contract spells it: keys match ignoring case, so "MESSAGE" is reported as "message".</summary>
    private static string FieldNamed(JsonFault fault, JsonException ex) =>
        fault == JsonFault.DuplicateKey ? FieldFromJsonPath(ex.Path).ToLowerInvariant() : FieldFromJsonPath(ex.Path);

    private static string DescribeJsonError(JsonFault fault, JsonException ex, JsonValueKind root)
    {
        var position = $"(line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})";
        switch (fault)
        {
            case JsonFault.DuplicateKey:
                return $"'{FieldNamed(fault, ex)}' is given more than once (key names are compared ignoring case); send each key once {position}.";
            case JsonFault.Syntax:
                return $"The JSON is malformed {position}.";
        }

        var expected = JsonFaults.ExpectedKind(ex.Path, root) switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Array => "an array",
            JsonValueKind.Object => "an object",
            _ => "another type",
        };
        var field = FieldFromJsonPath(ex.Path);
        return field == "body" ? $"The body must be a JSON object {position}." : $"'{field}' must be {expected} {position}.";
    }
}
