using System.Text.Json;
using System.Text.Json.Serialization;
using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Titles;

/// <summary>A title, or the problem to refuse with.</summary>
public sealed record TitleOutcome(string? Title, RequestRejection? Rejection)
{
    public static implicit operator TitleOutcome(RequestRejection rejection) => new(null, rejection);
}

/// <summary>
/// A conversation's title from its first exchange: one short call to the same model as the chat, admitted and
/// charged by the <see cref="SpendGate"/> like a reply (its worst case, CHAT_TITLE_MAX_OUTPUT_TOKENS, reserved before
/// the call, settled to the model's count after), its answer reduced to one plain line by <see cref="TitleText"/>.
/// </summary>
public sealed class TitleService(
    IChatModelProvider provider,
    SpendGate spendGate,
    IOptions<ConversationOptions> options,
    IOptions<ChatServiceOptions> chatOptions,
    ILogger<TitleService> logger)
{
    /// <summary>The longest reply the request may quote: the start of a reply says what the chat is about.</summary>
    public const int MaxReplyChars = 4_000;

    /// <summary>How long the model may take for a title before the page falls back to its own.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly ConversationOptions _options = options.Value;
    private readonly ChatServiceOptions _chat = chatOptions.Value;

    private int MaxBodyBytes => ((_chat.MaxMessageChars + MaxReplyChars) * 3) + 1024;

    public async Task<TitleOutcome> CreateAsync(Caller caller, Stream body, long? contentLength, string? contentType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var read = await ReadAsync(body, contentLength, contentType, cancellationToken);
        if (read.Rejection is { } rejection)
        {
            return rejection;
        }

        if (!provider.IsAvailable)
        {
            return new RequestRejection(StatusCodes.Status503ServiceUnavailable, "model", "No chat model is configured, so no title can be made.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            };
        }

        var (message, reply) = read.Value;
        var request = new ChatRequest(TitlePrompt.Ask, [new ChatTurn(ChatTurnRole.User, message), new ChatTurn(ChatTurnRole.Assistant, reply)]);
        var admission = await spendGate.AdmitAsync(caller.Key, request, TitlePrompt.Instructions, _options.TitleMaxOutputTokens, cancellationToken);
        if (admission.Rejection is { } refused)
        {
            return refused;
        }

        var spend = admission.Spend!;
        long? spent = null;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(Timeout);
            var text = new System.Text.StringBuilder();
            try
            {
                var chatOptions = new ChatOptions { MaxOutputTokens = _options.TitleMaxOutputTokens, Temperature = 0.2f };
                await foreach (var update in provider.Client.GetStreamingResponseAsync(TitlePrompt.Messages(message, reply), chatOptions, deadline.Token))
                {
                    text.Append(update.Text);
                    foreach (var usage in update.Contents.OfType<UsageContent>())
                    {
                        spent = usage.Details.TotalTokenCount ?? ((usage.Details.InputTokenCount ?? 0) + (usage.Details.OutputTokenCount ?? 0));
                    }

                    if (text.Length > TitleText.MaxChars * 16)
                    {
                        // Far more than any title: the model is not answering the question.
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var timedOut = ex is OperationCanceledException;
                Log.TitleModelFailed(logger, timedOut ? "timeout" : ex.GetType().Name);
                return ModelFailed(timedOut ? "The model did not name the conversation in time." : "The model could not name the conversation.");
            }

            var title = TitleText.Sanitize(text.ToString());
            if (title is null)
            {
                Log.TitleModelFailed(logger, "empty");
                return ModelFailed("The model's answer held no usable title.");
            }

            return new TitleOutcome(title, null);
        }
        finally
        {
            var counted = spend.Reservation.Outcome is BudgetOutcome.Reserved or BudgetOutcome.StoreUnavailable ? spent : null;
            await spend.SettleAsync(counted);
        }
    }

    private static RequestRejection ModelFailed(string detail) =>
        new(StatusCodes.Status502BadGateway, "model", detail + " Keep the page's own title.");

    private async Task<((string Message, string Reply) Value, RequestRejection? Rejection)> ReadAsync(
        Stream body, long? contentLength, string? contentType, CancellationToken cancellationToken)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !string.Equals(media.MediaType.Value, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (default, new RequestRejection(StatusCodes.Status415UnsupportedMediaType, "content-type", "Send the title request as application/json."));
        }

        var read = await BoundedBody.ReadAsync(body, contentLength, MaxBodyBytes, cancellationToken);
        if (read.TooLarge)
        {
            return (default, new RequestRejection(StatusCodes.Status413PayloadTooLarge, "body",
                $"A title request is at most {MaxBodyBytes} bytes: the first message and the start of its reply."));
        }

        if (read.Unreadable is { } unreadable)
        {
            return (default, unreadable);
        }

        if (read.Bytes!.Length == 0)
        {
            return (default, RequestRejection.BadRequest("body", "The request body is empty; send {\"message\": \"...\", \"reply\": \"...\"}."));
        }

        TitleRequestDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize(read.Bytes, TitleJsonContext.Default.TitleRequestDto);
        }
        catch (JsonException ex)
        {
            var field = ex.Path is "$.message" or "$.reply" ? ex.Path[2..] : "body";
            return (default, RequestRejection.BadRequest(field, field == "body"
                ? $"The JSON is malformed or not an object (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})."
                : $"{field} must be a string."));
        }

        if (dto is null)
        {
            return (default, RequestRejection.BadRequest("body", "The request body must be a JSON object."));
        }

        if (string.IsNullOrWhiteSpace(dto.Message))
        {
            return (default, RequestRejection.BadRequest("message", "message (the conversation's first message) is required and must not be empty."));
        }

        if (dto.Message.Length > _chat.MaxMessageChars)
        {
            return (default, RequestRejection.BadRequest("message", $"message is {dto.Message.Length} characters; the limit is {_chat.MaxMessageChars}."));
        }

        if (string.IsNullOrWhiteSpace(dto.Reply))
        {
            return (default, RequestRejection.BadRequest("reply", "reply (the first reply) is required and must not be empty."));
        }

        if (dto.Reply.Length > MaxReplyChars)
        {
            return (default, RequestRejection.BadRequest("reply", $"reply is {dto.Reply.Length} characters; send at most its first {MaxReplyChars}."));
        }

        return ((dto.Message, dto.Reply), null);
    }
}

internal sealed record TitleRequestDto(string? Message, string? Reply);

internal sealed record TitleResponseDto(string Title);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(TitleRequestDto))]
[JsonSerializable(typeof(TitleResponseDto))]
internal sealed partial class TitleJsonContext : JsonSerializerContext;
