using System.Text;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Models;

/// <summary>The event-by-event parse behind OpenAIProtocolChatClient, on the shapes Azure OpenAI and compatible servers send.</summary>
public class ChatCompletionChunkParserTests
{
    private const string PromptFilterChunk = """{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}""";

    private static ChatResponseUpdate? Parse(ChatCompletionChunkParser parser, string data, string eventType = "message") =>
        parser.Parse(eventType, Encoding.UTF8.GetBytes(data));

    private static string Delta(string contentJson, string finish = "null", string model = "gpt-x", string id = "chatcmpl-1") =>
        $$"""{"choices":[{"content_filter_results":{},"delta":{"content":{{contentJson}}},"finish_reason":{{finish}},"index":0,"logprobs":null}],"created":1,"id":"{{id}}","model":"{{model}}","object":"chat.completion.chunk","system_fingerprint":"fp"}""";

    [Fact]
    public void Prompt_filter_and_filter_only_chunks_yield_nothing()
    {
        var parser = new ChatCompletionChunkParser();

        Assert.Null(Parse(parser, PromptFilterChunk));
        Assert.Null(Parse(parser, """{"choices":[{"index":0,"finish_reason":null,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"content_filter_offsets":{"check_offset":0,"start_offset":0,"end_offset":5}}],"created":1,"id":"chatcmpl-1","model":"gpt-x","object":"chat.completion.chunk"}"""));
        Assert.Null(Parse(parser, Delta("\"\"")));
        Assert.Null(Parse(parser, Delta("null")));
        Assert.False(parser.Done);
    }

    [Fact]
    public void Text_is_unescaped_and_carries_the_model_and_response_id_allocated_once()
    {
        var parser = new ChatCompletionChunkParser();

        var first = Parse(parser, Delta("\"H\\u00e9 \\\"q\\\"\\n🙂\""))!;
        var second = Parse(parser, Delta("\" <b>\""))!;

        Assert.Equal("Hé \"q\"\n🙂", first.Text);
        Assert.Equal(" <b>", second.Text);
        Assert.Equal(ChatRole.Assistant, first.Role);
        Assert.Equal("gpt-x", first.ModelId);
        Assert.Equal("chatcmpl-1", first.ResponseId);
        Assert.Same(first.ModelId, second.ModelId);
        Assert.Same(first.ResponseId, second.ResponseId);
        Assert.Null(first.FinishReason);
    }

    [Fact]
    public void The_finish_reason_is_held_until_done_and_usage_comes_on_its_own_update()
    {
        var parser = new ChatCompletionChunkParser();
        Assert.Equal("a", Parse(parser, Delta("\"a\""))!.Text);

        Assert.Null(Parse(parser, Delta("null", "\"content_filter\"")));
        Assert.Equal(ChatFinishReason.ContentFilter, parser.FinishReason);
        var usage = Parse(parser, """{"choices":[],"id":"chatcmpl-1","model":"gpt-x","usage":{"prompt_tokens":21,"completion_tokens":6,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}""")!;
        var done = Parse(parser, "[DONE]")!;

        var details = Assert.IsType<UsageContent>(Assert.Single(usage.Contents)).Details;
        Assert.Equal((21L, 6L, 27L, 4L, 2L), (details.InputTokenCount, details.OutputTokenCount, details.TotalTokenCount, details.CachedInputTokenCount, details.ReasoningTokenCount));
        Assert.Null(usage.FinishReason);
        Assert.Equal(ChatFinishReason.ContentFilter, done.FinishReason);
        Assert.Empty(done.Contents);
        Assert.True(parser.Done);
        Assert.Null(Parse(parser, Delta("\"after the end\"")));
    }

    [Fact]
    public void Done_without_a_finish_reason_reports_none()
    {
        var parser = new ChatCompletionChunkParser();
        Parse(parser, Delta("\"a\""));

        Assert.Null(Parse(parser, "[DONE]"));
        Assert.True(parser.Done);
        Assert.Null(parser.FinishReason);
    }

    [Fact]
    public void Only_choice_zero_is_relayed()
    {
        var parser = new ChatCompletionChunkParser();

        var update = Parse(parser, """{"choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"role":"assistant","content":"mine"},"finish_reason":null}]}""");

        Assert.Equal("mine", update!.Text);
    }

    [Theory]
    [InlineData("length", "length")]
    [InlineData("stop", "stop")]
    [InlineData("tool_calls", "tool_calls")]
    [InlineData("something_new", "something_new")]
    public void Finish_reasons_map_to_the_abstraction(string wire, string expected)
    {
        var parser = new ChatCompletionChunkParser();
        Parse(parser, Delta("null", $"\"{wire}\""));

        Assert.Equal(new ChatFinishReason(expected), Parse(parser, "[DONE]")!.FinishReason);
    }

    [Theory]
    [InlineData("{\"choices\":[{\"delta\":{\"content\":\"x\"}")]
    [InlineData("<html>")]
    [InlineData("[1,2]")]
    public void A_malformed_event_is_a_retryable_upstream_error(string data)
    {
        var parser = new ChatCompletionChunkParser();

        var error = Assert.Throws<ChatUpstreamException>(() => Parse(parser, data));

        Assert.Equal(StreamError.Codes.UpstreamError, error.Error.Code);
        Assert.True(error.Error.Retryable);
    }

    [Theory]
    [InlineData("""{"error":{"message":"zqx","type":"server_error","code":null}}""", "message", StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData("""{"error":{"message":"zqx","type":"invalid_request_error","code":"context_length_exceeded"}}""", "message", StreamError.Codes.UpstreamError, false)]
    [InlineData("""{"error":{"message":"zqx","code":429}}""", "message", StreamError.Codes.RateLimited, true)]
    [InlineData("""{"error":{"message":"zqx","code":503}}""", "message", StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData("""{"message":"zqx","type":"timeout"}""", "error", StreamError.Codes.UpstreamTimeout, true)]
    [InlineData("""{"error":{"message":"zqx","type":"server_error"}}""", "error", StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData("""{"error":{"message":"zqx"}}""", "message", StreamError.Codes.UpstreamError, true)]
    public void An_error_object_throws_a_classified_exception_that_never_carries_its_message(string data, string eventType, string code, bool retryable)
    {
        var parser = new ChatCompletionChunkParser();

        var error = Assert.Throws<ChatUpstreamException>(() => Parse(parser, data, eventType));

        Assert.Equal(code, error.Error.Code);
        Assert.Equal(retryable, error.Error.Retryable);
        Assert.DoesNotContain("zqx", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_explicit_null_error_is_not_an_error()
    {
        var parser = new ChatCompletionChunkParser();

        Assert.Equal("ok", Parse(parser, """{"error":null,"choices":[{"index":0,"delta":{"content":"ok"}}]}""")!.Text);
    }
}
