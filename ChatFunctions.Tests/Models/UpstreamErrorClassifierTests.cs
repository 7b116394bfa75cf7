using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using ChatFunctions.Models;
using ChatFunctions.Streaming;

namespace ChatFunctions.Tests.Models;

public class UpstreamErrorClassifierTests
{
    private static ClientResultException Failed(int status, params (string Name, string Value)[] headers)
    {
        var response = new FakeResponse(status, headers);
        return new ClientResultException(response);
    }

    [Fact]
    public void RateLimit_IsRetryable_AndHonoursRetryAfterMs()
    {
        var error = UpstreamErrorClassifier.Classify(Failed(429, ("retry-after-ms", "1500"), ("retry-after", "2"))).Error;

        Assert.Equal(StreamError.Codes.RateLimited, error.Code);
        Assert.True(error.Retryable);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), error.RetryAfter);
    }

    [Fact]
    public void RateLimit_FallsBackToRetryAfterSeconds()
    {
        var error = UpstreamErrorClassifier.Classify(Failed(429, ("retry-after", "86400"))).Error;

        Assert.Equal(TimeSpan.FromDays(1), error.RetryAfter);
    }

    [Theory]
    [InlineData(500, StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData(503, StreamError.Codes.UpstreamUnavailable, true)]
    [InlineData(504, StreamError.Codes.UpstreamTimeout, true)]
    [InlineData(408, StreamError.Codes.UpstreamTimeout, true)]
    [InlineData(401, StreamError.Codes.UpstreamError, false)]
    [InlineData(403, StreamError.Codes.UpstreamError, false)]
    [InlineData(404, StreamError.Codes.UpstreamError, false)]
    [InlineData(400, StreamError.Codes.UpstreamError, false)]
    public void Status_MapsToCodeAndRetryability(int status, string code, bool retryable)
    {
        var classified = UpstreamErrorClassifier.Classify(Failed(status));

        Assert.Equal(code, classified.Error.Code);
        Assert.Equal(retryable, classified.Error.Retryable);
        Assert.Equal(status, classified.Status);
    }

    [Fact]
    public void ConnectionFailures_AreRetryableUnavailability()
    {
        Assert.Equal(StreamError.Codes.UpstreamUnavailable, UpstreamErrorClassifier.Classify(new HttpRequestException("reset")).Error.Code);
        Assert.Equal(StreamError.Codes.UpstreamUnavailable, UpstreamErrorClassifier.Classify(new IOException("reset")).Error.Code);
        Assert.Equal(StreamError.Codes.RateLimited,
            UpstreamErrorClassifier.Classify(new HttpRequestException("x", null, HttpStatusCode.TooManyRequests)).Error.Code);
    }

    [Fact]
    public void UnknownExceptions_AreInternal_AndNeverEchoTheirMessage()
    {
        var classified = UpstreamErrorClassifier.Classify(new InvalidOperationException("prompt text: secret"));

        Assert.Equal(StreamError.Codes.InternalError, classified.Error.Code);
        Assert.False(classified.Error.Retryable);
        Assert.DoesNotContain("secret", classified.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UpstreamExceptions_PassThrough()
    {
        var original = new ChatUpstreamException(new StreamError("rate_limited", "m", true));

        Assert.Same(original, UpstreamErrorClassifier.Classify(original));
    }

    private sealed class FakeResponse(int status, (string Name, string Value)[] headers) : PipelineResponse
    {
        private readonly FakeHeaders _headers = new(headers);

        public override int Status => status;

        public override string ReasonPhrase => "scripted";

        public override Stream? ContentStream { get; set; } = new MemoryStream();

        public override BinaryData Content => BinaryData.FromString("{}");

        protected override PipelineResponseHeaders HeadersCore => _headers;

        public override BinaryData BufferContent(CancellationToken cancellationToken = default) => Content;

        public override ValueTask<BinaryData> BufferContentAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Content);

        public override void Dispose()
        {
        }
    }

    private sealed class FakeHeaders((string Name, string Value)[] headers) : PipelineResponseHeaders
    {
        public override IEnumerator<KeyValuePair<string, string>> GetEnumerator() =>
            headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)).GetEnumerator();

        public override bool TryGetValue(string name, out string? value)
        {
            var match = headers.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));
            value = match.Value;
            return match.Name is not null;
        }

        public override bool TryGetValues(string name, out IEnumerable<string>? values)
        {
            var found = TryGetValue(name, out var value);
            values = found ? [value!] : null;
            return found;
        }
    }
}
