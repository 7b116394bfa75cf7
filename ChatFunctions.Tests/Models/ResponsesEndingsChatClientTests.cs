using System.ClientModel.Primitives;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.Extensions.AI;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the SDK's Responses types, as the app uses them

namespace ChatFunctions.Tests.Models;

/// <summary>
/// The Responses stream's endings as the relay needs them, from the SDK's own parse of each event (what
/// Microsoft.Extensions.AI's adapter puts in RawRepresentation).
/// </summary>
public sealed class ResponsesEndingsChatClientTests
{
    private const string Usage = """{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":40}""";

    private static string Response(string status, string extra) =>
        $$"""{"id":"resp_1","object":"response","created_at":1741290958,"status":"{{status}}","model":"dep","output":[],"parallel_tool_calls":true,"tools":[],"tool_choice":"auto"{{extra}}}""";

    private static ChatResponseUpdate Update(string eventJson) =>
        new() { RawRepresentation = ModelReaderWriter.Read<StreamingResponseUpdate>(BinaryData.FromString(eventJson)) };

    [Theory]
    [InlineData("max_output_tokens", "length")]
    [InlineData("content_filter", "content_filter")]
    public void An_incomplete_response_finishes_for_its_reason_with_its_usage(string reason, string finishReason)
    {
        var update = Update($$"""{"type":"response.incomplete","sequence_number":9,"response":{{Response("incomplete", $$""","incomplete_details":{"reason":"{{reason}}"},"usage":{{Usage}}""")}}}""");

        var mapped = ResponsesEndingsChatClient.Map(update);

        Assert.Equal(new ChatFinishReason(finishReason), mapped.FinishReason);
        var usage = Assert.Single(mapped.Contents.OfType<UsageContent>()).Details;
        Assert.Equal((10L, 30L, 40L, 20L), (usage.InputTokenCount, usage.OutputTokenCount, usage.TotalTokenCount, usage.ReasoningTokenCount));
    }

    [Fact]
    public void A_failed_response_throws_a_classified_error_without_the_services_message()
    {
        var update = Update($$"""{"type":"response.failed","sequence_number":9,"response":{{Response("failed", ""","error":{"code":"server_error","message":"quoting the secret prompt"}""")}}}""");

        var error = Assert.Throws<ChatUpstreamException>(() => ResponsesEndingsChatClient.Map(update));

        Assert.Equal(StreamError.Codes.UpstreamUnavailable, error.Error.Code);
        Assert.True(error.Error.Retryable);
        Assert.DoesNotContain("secret", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rate_limit_exceeded", StreamError.Codes.RateLimited, true)]
    [InlineData("server_error", StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData("invalid_request_error", StreamError.Codes.UpstreamError, false)]
    public void An_error_event_throws_by_its_code_without_the_services_message(string code, string expected, bool retryable)
    {
        var update = Update($$"""{"type":"error","sequence_number":3,"code":"{{code}}","message":"quoting the secret prompt","param":null}""");

        var error = Assert.Throws<ChatUpstreamException>(() => ResponsesEndingsChatClient.Map(update));

        Assert.Equal((expected, retryable), (error.Error.Code, error.Error.Retryable));
        Assert.DoesNotContain("secret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_error_content_from_the_adapter_throws_as_the_error_event_does()
    {
        var update = new ChatResponseUpdate(ChatRole.Assistant, [new ErrorContent("quoting the secret prompt") { ErrorCode = "rate_limit_exceeded" }]);

        var error = Assert.Throws<ChatUpstreamException>(() => ResponsesEndingsChatClient.Map(update));

        Assert.Equal(StreamError.Codes.RateLimited, error.Error.Code);
    }

    [Fact]
    public void Other_updates_pass_unchanged()
    {
        var update = new ChatResponseUpdate(ChatRole.Assistant, [new TextReasoningContent("thinking"), new TextContent("text")]);

        var mapped = ResponsesEndingsChatClient.Map(update);

        Assert.Same(update, mapped);
        Assert.Null(mapped.FinishReason);
        Assert.Equal(2, mapped.Contents.Count);
    }

    [Theory]
    [InlineData("https://my-openai.openai.azure.com/", "https://my-openai.openai.azure.com/openai/v1/")]
    [InlineData("https://my-openai.openai.azure.com", "https://my-openai.openai.azure.com/openai/v1/")]
    [InlineData("https://my-openai.openai.azure.com/openai/", "https://my-openai.openai.azure.com/openai/v1/")]
    [InlineData("http://127.0.0.1:5123/", "http://127.0.0.1:5123/openai/v1/")]
    public void The_v1_endpoint_is_the_resources_origin_plus_openai_v1(string endpoint, string expected) =>
        Assert.Equal(new Uri(expected), AzureOpenAIResponses.V1Endpoint(new Uri(endpoint)));
}
