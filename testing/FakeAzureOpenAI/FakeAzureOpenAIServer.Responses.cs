using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace FakeAzureOpenAI;

/// <summary>
/// POST /openai/v1/responses with <c>stream: true</c>, the way Azure OpenAI's v1 Responses API streams: named events
/// (<c>event: response.output_text.delta</c>) whose data carries the same <c>type</c> and a <c>sequence_number</c>:
/// response.created, response.in_progress, the think, a reasoning item with its summary (when the request asks for
/// one: reasoning_summary_part.added, reasoning_summary_text.delta…, .done, part.done), a message item with
/// output_text.delta per token, and one ending: response.completed with usage (reasoning tokens in
/// output_tokens_details), response.incomplete with incomplete_details.reason (max_output_tokens or content_filter),
/// response.failed, or an error event. The same <see cref="FakeScript"/> faults as Chat Completions apply.
/// </summary>
public sealed partial class FakeAzureOpenAIServer
{
    private async Task HandleResponsesAsync(HttpContext context)
    {
        if (await BeginAsync(context, deployment: null, deploymentFromBody: true) is not { } begun)
        {
            return;
        }

        var (recorded, script) = begun;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers["apim-request-id"] = Guid.NewGuid().ToString();
        using var abortRegistration = context.RequestAborted.Register(() => MarkAborted(recorded));

        var events = new ResponseEvents(context, "resp_" + Guid.NewGuid().ToString("N"), recorded.Body["model"]?.GetValue<string>() ?? script.Model, script.EventIds);
        try
        {
            await events.WriteAsync("response.created", new JsonObject { ["response"] = events.Response("in_progress") });
            await events.WriteAsync("response.in_progress", new JsonObject { ["response"] = events.Response("in_progress") });

            var reasoning = recorded.Body["reasoning"];
            var think = script.ThinkTimeFor(reasoning?["effort"]?.GetValue<string>());
            if (think > TimeSpan.Zero)
            {
                await Task.Delay(think, context.RequestAborted);
            }

            var outputIndex = 0;
            if (reasoning?["summary"] is not null && script.ReasoningSummary.Count > 0)
            {
                await WriteReasoningItemAsync(events, script.ReasoningSummary, outputIndex++);
            }

            const string messageId = "msg_fake";
            var message = new JsonObject { ["id"] = messageId, ["type"] = "message", ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() };
            await events.WriteAsync("response.output_item.added", new JsonObject { ["output_index"] = outputIndex, ["item"] = message });
            await events.WriteAsync("response.content_part.added", new JsonObject
            {
                ["item_id"] = messageId, ["output_index"] = outputIndex, ["content_index"] = 0,
                ["part"] = new JsonObject { ["type"] = "output_text", ["text"] = "", ["annotations"] = new JsonArray() },
            });

            for (var i = 0; i < script.Tokens.Count; i++)
            {
                if (i > 0 && script.TokenInterval > TimeSpan.Zero)
                {
                    await Task.Delay(script.TokenInterval, context.RequestAborted);
                }

                if (i == script.ResetAfterTokens)
                {
                    await ResetAsync(context, script);
                    return;
                }

                if (i == script.EndAfterTokens)
                {
                    return;
                }

                if (i == script.StreamErrorAfterTokens)
                {
                    await WriteErrorEventAsync(events, script);
                    return;
                }

                if (i == script.StallAfterTokens)
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
                }

                var sentAt = Stopwatch.GetTimestamp();
                await events.WriteAsync("response.output_text.delta", new JsonObject
                {
                    ["item_id"] = messageId, ["output_index"] = outputIndex, ["content_index"] = 0, ["delta"] = script.Tokens[i], ["logprobs"] = new JsonArray(),
                });
                recorded.TokenSentTimestamps.Enqueue(sentAt);
            }

            if (script.ResetAfterTokens == script.Tokens.Count)
            {
                await ResetAsync(context, script);
                return;
            }

            if (script.EndAfterTokens == script.Tokens.Count)
            {
                return;
            }

            if (script.StreamErrorAfterTokens == script.Tokens.Count)
            {
                await WriteErrorEventAsync(events, script);
                return;
            }

            var text = string.Concat(script.Tokens);
            await events.WriteAsync("response.output_text.done", new JsonObject
            {
                ["item_id"] = messageId, ["output_index"] = outputIndex, ["content_index"] = 0, ["text"] = text, ["logprobs"] = new JsonArray(),
            });
            var part = new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() };
            await events.WriteAsync("response.content_part.done", new JsonObject
            {
                ["item_id"] = messageId, ["output_index"] = outputIndex, ["content_index"] = 0, ["part"] = part,
            });
            var done = message.DeepClone().AsObject();
            done["status"] = script.FinishReason == "stop" ? "completed" : "incomplete";
            done["content"] = new JsonArray(part.DeepClone());
            await events.WriteAsync("response.output_item.done", new JsonObject { ["output_index"] = outputIndex, ["item"] = done });
            if (script.EndAfterFinishReason)
            {
                // The text is all there, the response's own ending event is not.
                return;
            }

            if (script.ResponseFailedCode is { } failedCode)
            {
                var failed = events.Response("failed");
                failed["error"] = new JsonObject { ["code"] = failedCode, ["message"] = "scripted failure" };
                await events.WriteAsync("response.failed", new JsonObject { ["response"] = failed });
                return;
            }

            var usage = script.IncludeUsage ? ResponsesUsage(script) : null;
            if (script.FinishReason == "stop")
            {
                var completed = events.Response("completed");
                completed["usage"] = usage;
                await events.WriteAsync("response.completed", new JsonObject { ["response"] = completed });
            }
            else
            {
                var incomplete = events.Response("incomplete");
                incomplete["incomplete_details"] = new JsonObject { ["reason"] = script.FinishReason == "length" ? "max_output_tokens" : script.FinishReason };
                incomplete["usage"] = usage;
                await events.WriteAsync("response.incomplete", new JsonObject { ["response"] = incomplete });
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || context.RequestAborted.IsCancellationRequested)
        {
            MarkAborted(recorded);
        }
    }

    private static async Task WriteReasoningItemAsync(ResponseEvents events, IReadOnlyList<string> summary, int outputIndex)
    {
        const string itemId = "rs_fake";
        await events.WriteAsync("response.output_item.added", new JsonObject
        {
            ["output_index"] = outputIndex, ["item"] = new JsonObject { ["id"] = itemId, ["type"] = "reasoning", ["summary"] = new JsonArray() },
        });
        await events.WriteAsync("response.reasoning_summary_part.added", new JsonObject
        {
            ["item_id"] = itemId, ["output_index"] = outputIndex, ["summary_index"] = 0, ["part"] = new JsonObject { ["type"] = "summary_text", ["text"] = "" },
        });
        foreach (var delta in summary)
        {
            await events.WriteAsync("response.reasoning_summary_text.delta", new JsonObject
            {
                ["item_id"] = itemId, ["output_index"] = outputIndex, ["summary_index"] = 0, ["delta"] = delta,
            });
        }

        var text = string.Concat(summary);
        await events.WriteAsync("response.reasoning_summary_text.done", new JsonObject
        {
            ["item_id"] = itemId, ["output_index"] = outputIndex, ["summary_index"] = 0, ["text"] = text,
        });
        await events.WriteAsync("response.reasoning_summary_part.done", new JsonObject
        {
            ["item_id"] = itemId, ["output_index"] = outputIndex, ["summary_index"] = 0, ["part"] = new JsonObject { ["type"] = "summary_text", ["text"] = text },
        });
        await events.WriteAsync("response.output_item.done", new JsonObject
        {
            ["output_index"] = outputIndex,
            ["item"] = new JsonObject
            {
                ["id"] = itemId, ["type"] = "reasoning",
                ["summary"] = new JsonArray(new JsonObject { ["type"] = "summary_text", ["text"] = text }),
            },
        });
    }

    private static Task WriteErrorEventAsync(ResponseEvents events, FakeScript script) =>
        events.WriteAsync("error", new JsonObject { ["code"] = script.StreamErrorCode, ["message"] = "The server had an error while processing your request.", ["param"] = null });

    /// <summary>Usage as the Responses API reports it: reasoning tokens are part of the output tokens.</summary>
    private static JsonObject ResponsesUsage(FakeScript script)
    {
        var output = script.Tokens.Count + script.ReasoningTokens;
        return new JsonObject
        {
            ["input_tokens"] = script.PromptTokens,
            ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
            ["output_tokens"] = output,
            ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = script.ReasoningTokens },
            ["total_tokens"] = script.PromptTokens + output,
        };
    }

    /// <summary>One response's events: named, numbered in order, each flushed.</summary>
    private sealed class ResponseEvents(HttpContext context, string id, string model, bool eventIds)
    {
        private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        private int _sequence;

        public JsonObject Response(string status) => new()
        {
            ["id"] = id,
            ["object"] = "response",
            ["created_at"] = _created,
            ["status"] = status,
            ["error"] = null,
            ["incomplete_details"] = null,
            ["model"] = model,
            ["output"] = new JsonArray(),
            ["parallel_tool_calls"] = true,
            ["tool_choice"] = "auto",
            ["tools"] = new JsonArray(),
            ["usage"] = null,
        };

        public async Task WriteAsync(string type, JsonObject payload)
        {
            var data = new JsonObject { ["type"] = type };
            foreach (var (name, value) in payload.ToList())
            {
                payload.Remove(name);
                data[name] = value;
            }

            var sequence = _sequence++;
            data["sequence_number"] = sequence;
            var id = eventIds ? "id: " + sequence.ToString(CultureInfo.InvariantCulture) + "\n" : "";
            await context.Response.WriteAsync(id + "event: " + type + "\ndata: " + data.ToJsonString(Json) + "\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }
}
