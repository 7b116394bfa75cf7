using System.Text;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;

namespace ChatFunctions.Tests.Models;

/// <summary>
/// The event-by-event parse behind ResponsesProtocolChatClient on shapes the fake server does not send (its streams
/// run through both clients in ResponsesClientEquivalenceTests): properties in another order, unknown events, bad JSON.
/// </summary>
public sealed class ResponsesStreamParserTests
{
    private const string Created = """{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"dep","output":[],"usage":null}}""";

    private static ChatResponseUpdate? Parse(ResponsesStreamParser parser, string data) =>
        parser.Parse("message", Encoding.UTF8.GetBytes(data));

    [Fact]
    public void Text_deltas_carry_the_response_id_and_model_read_once_from_the_created_event()
    {
        var parser = new ResponsesStreamParser();

        Assert.Null(Parse(parser, Created));
        var first = Parse(parser, """{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"H\u00e9 \"q\"","sequence_number":1}""")!;
        var second = Parse(parser, """{"type":"response.output_text.delta","delta":" <b>","sequence_number":2}""")!;

        Assert.Equal("Hé \"q\"", Assert.IsType<TextContent>(Assert.Single(first.Contents)).Text);
        Assert.Equal(" <b>", second.Text);
        Assert.Equal(("resp_1", "dep"), (first.ResponseId, first.ModelId));
        Assert.Same(first.ResponseId, second.ResponseId);
        Assert.Same(first.ModelId, second.ModelId);
        Assert.Null(first.FinishReason);
    }

    [Fact]
    public void A_type_after_the_delta_and_an_ending_whose_response_comes_first_are_read_alike()
    {
        var parser = new ResponsesStreamParser();

        var summary = Parse(parser, """{"delta":"weighing","item_id":"rs_1","type":"response.reasoning_summary_text.delta"}""")!;
        var ending = Parse(parser, """{"response":{"id":"resp_1","status":"incomplete","incomplete_details":{"reason":"content_filter"},"usage":{"input_tokens":3,"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":8}},"type":"response.incomplete"}""")!;

        Assert.Equal("weighing", Assert.IsType<TextReasoningContent>(Assert.Single(summary.Contents)).Text);
        Assert.Equal(ChatFinishReason.ContentFilter, ending.FinishReason);
        var usage = Assert.IsType<UsageContent>(Assert.Single(ending.Contents)).Details;
        Assert.Equal((3L, 5L, 8L, 2L), (usage.InputTokenCount, usage.OutputTokenCount, usage.TotalTokenCount, usage.ReasoningTokenCount));
        Assert.True(parser.Done);
    }

    [Fact]
    public void Events_the_relay_does_not_use_yield_nothing_and_nothing_is_read_after_the_ending()
    {
        var parser = new ResponsesStreamParser();

        Assert.Null(Parse(parser, """{"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","content":[]}}"""));
        Assert.Null(Parse(parser, """{"type":"response.output_text.done","text":"all of it","delta":"not a delta"}"""));
        Assert.Null(Parse(parser, """{"type":"response.output_text.delta","delta":""}"""));
        Assert.Null(Parse(parser, """{"type":"response.some_future_event","response":{"id":"resp_other"}}"""));
        var done = Parse(parser, """{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":null}}""")!;
        Assert.Equal(ChatFinishReason.Stop, done.FinishReason);
        Assert.Empty(done.Contents);
        Assert.Null(Parse(parser, """{"type":"response.output_text.delta","delta":"late"}"""));
    }

    [Fact]
    public void An_error_event_with_its_code_nested_or_numeric_throws_classified_without_the_message()
    {
        var nested = Assert.Throws<ChatUpstreamException>(() => Parse(new ResponsesStreamParser(), """{"type":"error","code":null,"message":"quoting the secret prompt","error":{"code":"x"}}"""));
        var limited = Assert.Throws<ChatUpstreamException>(() => Parse(new ResponsesStreamParser(), """{"type":"error","code":"rate_limit_exceeded","message":"quoting the secret prompt"}"""));

        Assert.Equal(StreamError.Codes.RateLimited, limited.Error.Code);
        Assert.DoesNotContain("secret", nested.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret", limited.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_is_an_upstream_error_worth_retrying()
    {
        var error = Assert.Throws<ChatUpstreamException>(() => Parse(new ResponsesStreamParser(), """{"type":"response.output_text.delta","delta":"""));

        Assert.Equal(StreamError.Codes.UpstreamError, error.Error.Code);
        Assert.True(error.Error.Retryable);
    }
}
