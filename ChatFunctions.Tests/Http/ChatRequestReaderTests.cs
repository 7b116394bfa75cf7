using System.Text;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Http;

public class ChatRequestReaderTests
{
    private static readonly ChatServiceOptions Limits = new()
    {
        MaxMessageChars = 20,
        MaxHistoryItems = 3,
        MaxHistoryChars = 30,
        MaxRequestBytes = 2048,
    };

    private static ChatRequestReader Reader() => new(Options.Create(Limits));

    private static DefaultHttpContext Post(string body, string? contentType = "application/json", bool sendLength = true)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.ContentType = contentType;
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Request.Body = new MemoryStream(bytes);
        context.Request.ContentLength = sendLength ? bytes.Length : null;
        return context;
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { "", "body" },
        { "not json", "body" },
        { "[]", "body" },
        { "null", "body" },
        { "{\"message\": 5}", "message" },
        { "{\"message\": \"hi\", \"history\": {}}", "history" },
        { "{\"message\": \"hi\", \"history\": [{\"role\": \"user\", \"content\": 3}]}", "history[0].content" },
        { "{}", "message" },
        { "{\"message\": null}", "message" },
        { "{\"message\": \"\"}", "message" },
        { "{\"message\": \"   \\n \"}", "message" },
        { "{\"message\": \"123456789012345678901\"}", "message" },
        { "{\"message\": \"hi\", \"history\": [null]}", "history[0]" },
        { "{\"message\": \"hi\", \"history\": [{\"content\": \"x\"}]}", "history[0].role" },
        { "{\"message\": \"hi\", \"history\": [{\"role\": \"bot\", \"content\": \"x\"}]}", "history[0].role" },
        { "{\"message\": \"hi\", \"history\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"system\", \"content\": \"x\"}]}", "history[1].role" },
        { "{\"message\": \"hi\", \"history\": [{\"role\": \"user\"}]}", "history[0].content" },
        { "{\"message\": \"hi\", \"history\": [{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"a\"}]}", "history" },
        { "{\"message\": \"hi\", \"history\": [{\"role\":\"user\",\"content\":\"0123456789012345\"},{\"role\":\"assistant\",\"content\":\"0123456789012345\"}]}", "history" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidBody_IsRejectedWith400_NamingTheField(string body, string field)
    {
        var result = await Reader().ReadAsync(Post(body).Request, CancellationToken.None);

        Assert.Null(result.Request);
        Assert.NotNull(result.Rejection);
        Assert.Equal(RefusalKind.Invalid, result.Rejection!.Kind);
        Assert.Equal(field, result.Rejection.Field);
        Assert.False(string.IsNullOrWhiteSpace(result.Rejection.Detail));
    }

    public static TheoryData<string, string, string> WrongTypesAndSyntax => new()
    {
        { "{\"message\": 5}", "message", "'message' must be a string" },
        { "{\"message\": {\"text\": \"hi\"}}", "message", "'message' must be a string" },
        { "{\"message\": \"hi\", \"history\": \"earlier\"}", "history", "'history' must be an array" },
        { "{\"message\": \"hi\", \"history\": [[]]}", "history[0]", "'history[0]' must be an object" },
        { "{\"message\": \"hi\", \"history\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": true, \"content\": \"b\"}]}", "history[1].role", "'history[1].role' must be a string" },
        { "[]", "body", "The body must be a JSON object" },
        { "{\"message\": \"hi\"} x", "body", "The JSON is malformed" },
        { "{\"message\": \"hi\"}{}", "body", "The JSON is malformed" },
        { "{\"message\": \"hi\",}", "body", "The JSON is malformed" },
        { "{\"message\": \"hi\" /* note */}", "body", "The JSON is malformed" },
    };

    /// <summary>The field and the fault come from the exception's path and structure, not its message text.</summary>
    [Theory]
    [MemberData(nameof(WrongTypesAndSyntax))]
    public async Task WrongTypes_NameTheFieldAndTheTypeItTakes_AndBrokenSyntaxNamesTheBody(string body, string field, string detail)
    {
        var result = await Reader().ReadAsync(Post(body).Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
        Assert.Equal(field, result.Rejection!.Field);
        Assert.StartsWith(detail, result.Rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidBody_IsRead_WithHistoryInOrder()
    {
        var result = await Reader().ReadAsync(Post("""
            {"message":"hi","history":[{"role":"user","content":"a"},{"role":"Assistant","content":"b"}],"extra":true}
            """).Request, CancellationToken.None);

        Assert.Null(result.Rejection);
        Assert.Equal("hi", result.Request!.Message);
        Assert.Equal([new ChatTurn(ChatTurnRole.User, "a"), new ChatTurn(ChatTurnRole.Assistant, "b")], result.Request.History);
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/problem+json")]
    [InlineData("APPLICATION/JSON")]
    public async Task JsonContentTypes_AreAccepted(string contentType)
    {
        var result = await Reader().ReadAsync(Post("{\"message\":\"hi\"}", contentType).Request, CancellationToken.None);

        Assert.NotNull(result.Request);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task OtherContentTypes_Get415(string? contentType)
    {
        var result = await Reader().ReadAsync(Post("{\"message\":\"hi\"}", contentType).Request, CancellationToken.None);

        Assert.Equal(RefusalKind.UnsupportedFormat, result.Rejection!.Kind);
    }

    [Fact]
    public async Task DeclaredLengthOverTheLimit_Gets413_WithoutReadingTheBody()
    {
        var context = Post("{\"message\":\"hi\"}");
        context.Request.ContentLength = Limits.MaxRequestBytes + 1;
        var body = new CountingStream(context.Request.Body);
        context.Request.Body = body;

        var result = await Reader().ReadAsync(context.Request, CancellationToken.None);

        Assert.Equal(RefusalKind.TooLarge, result.Rejection!.Kind);
        Assert.Equal(0, body.BytesRead);
    }

    [Fact]
    public async Task ChunkedBodyOverTheLimit_Gets413_AfterReadingOnlyTheLimit()
    {
        var huge = "{\"message\":\"" + new string('x', 100_000) + "\"}";
        var context = Post(huge, sendLength: false);
        var body = new CountingStream(context.Request.Body);
        context.Request.Body = body;

        var result = await Reader().ReadAsync(context.Request, CancellationToken.None);

        Assert.Equal(RefusalKind.TooLarge, result.Rejection!.Kind);
        Assert.True(body.BytesRead <= Limits.MaxRequestBytes + 64 * 1024, $"read {body.BytesRead} bytes");
    }

    [Fact]
    public async Task BodyOfExactlyTheLimit_IsAccepted()
    {
        var message = new string('x', 10);
        var prefix = "{\"message\":\"" + message + "\",\"pad\":\"";
        var padding = new string(' ', Limits.MaxRequestBytes - prefix.Length - 2);
        var body = prefix + padding + "\"}";
        Assert.Equal(Limits.MaxRequestBytes, Encoding.UTF8.GetByteCount(body));

        var result = await Reader().ReadAsync(Post(body, sendLength: false).Request, CancellationToken.None);

        Assert.Equal(message, result.Request?.Message);
    }

    public static TheoryData<string, string> InvalidQueries => new()
    {
        { "", "message" },
        { "?message=", "message" },
        { "?message=a&message=b", "message" },
        { "?message=hi&history=not-json", "history" },
        { "?message=hi&history={}", "history" },
        { "?message=hi&history=[{\"role\":\"user\",\"content\":1}]", "history[0].content" },
        { "?message=hi&history=[{\"role\":\"user\",\"content\":\"a\"},{\"role\":{},\"content\":\"b\"}]", "history[1].role" },
        { "?message=hi&history=[]x", "history" },
        { "?message=hi&history=[{\"role\":\"system\",\"content\":\"x\"}]", "history[0].role" },
    };

    [Theory]
    [MemberData(nameof(InvalidQueries))]
    public async Task InvalidQuery_IsRejectedWith400_NamingTheField(string query, string field)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.QueryString = query.Length == 0 ? QueryString.Empty : new QueryString(query);

        var result = await Reader().ReadAsync(context.Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
        Assert.Equal(field, result.Rejection!.Field);
    }

    [Fact]
    public async Task ValidQuery_IsRead()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.QueryString = QueryString.Create(new Dictionary<string, string?>
        {
            ["message"] = "안녕",
            ["history"] = "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]",
        });

        var result = await Reader().ReadAsync(context.Request, CancellationToken.None);

        Assert.Equal("안녕", result.Request!.Message);
        Assert.Equal(2, result.Request.History.Count);
    }

    public static TheoryData<string, string> DuplicateKeys => new()
    {
        { """{"message":"a","message":"b"}""", "message" },
        { """{"message":"a","MESSAGE":"b"}""", "message" },
        { """{"Message":"a","message":"b"}""", "message" },
        { """{"message":"a","history":[],"History":[]}""", "history" },
        { """{"message":"a","history":[{"role":"user","content":"x","content":"y"}]}""", "history[0].content" },
        { """{"message":"a","history":[{"role":"user","content":"x"},{"role":"user","ROLE":"assistant","content":"y"}]}""", "history[1].role" },
    };

    [Theory]
    [MemberData(nameof(DuplicateKeys))]
    public async Task DuplicateKeys_InAnyCase_AreRejected_NamingTheKey(string body, string field)
    {
        var result = await Reader().ReadAsync(Post(body).Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
        Assert.Equal(field, result.Rejection!.Field);
        Assert.Contains("more than once", result.Rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DuplicateKeys_InTheHistoryQueryParameter_AreRejected()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.QueryString = QueryString.Create(new Dictionary<string, string?>
        {
            ["message"] = "hi",
            ["history"] = """[{"role":"user","content":"a","Content":"b"}]""",
        });

        var result = await Reader().ReadAsync(context.Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
        Assert.Equal("history[0].content", result.Rejection!.Field);
    }

    [Fact]
    public async Task UnknownKeys_StayIgnored_EvenWhenRepeated()
    {
        var result = await Reader().ReadAsync(Post("""{"message":"hi","extra":1,"extra":2}""").Request, CancellationToken.None);

        Assert.Equal("hi", result.Request?.Message);
    }

    public static TheoryData<string> BlankTexts => new()
    {
        "\u0000",
        "\u0000\u0001\u001f\u007f",
        "\u0085\u009f",
        "\u200b\u200c\u200d\u2060",
        "\ufeff",
        " \t\r\n\u00a0\u2028\u3000",
        "\u00ad\u180e\u061c\u200e\u202e",
        "\u3164\u115f\u2800",
        "\u0000 \ufeff \u200b",
    };

    [Theory]
    [MemberData(nameof(BlankTexts))]
    public async Task AMessageOfOnlyInvisibleCharacters_IsBlank(string message)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { message });

        var result = await Reader().ReadAsync(Post(body).Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
        Assert.Equal("message", result.Rejection!.Field);
    }

    [Theory]
    [MemberData(nameof(BlankTexts))]
    public async Task AHistoryContentOfOnlyInvisibleCharacters_IsBlank(string content)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { message = "hi", history = new[] { new { role = "user", content = "a" }, new { role = "assistant", content } } });

        var result = await Reader().ReadAsync(Post(body).Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
        Assert.Equal("history[1].content", result.Rejection!.Field);
    }

    [Fact]
    public async Task BlankMessage_OnTheGetQuery_IsRejected()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.QueryString = QueryString.Create("message", "\u0000\u200b");

        var result = await Reader().ReadAsync(context.Request, CancellationToken.None);

        Assert.Equal("message", result.Rejection?.Field);
    }

    [Fact]
    public async Task ControlCharacters_InsideText_AreRemoved_ButTabsAndNewlinesAndFormatCharactersStay()
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new
        {
            message = "a\u0000b\u0007c\td\r\ne\u007f\u0085f",
            history = new[] { new { role = "assistant", content = "x\u0000y 👩\u200d💻 \u200fשלום" } },
        });

        var result = await Reader().ReadAsync(Post(body).Request, CancellationToken.None);

        Assert.Equal("abc\td\r\nef", result.Request!.Message);
        Assert.Equal("xy 👩\u200d💻 \u200fשלום", result.Request.History[0].Content);
    }

    [Fact]
    public async Task UnpairedSurrogates_AreRefusedByTheParser()
    {
        var result = await Reader().ReadAsync(Post("{\"message\":\"a\\ud800b\"}").Request, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Rejection?.Kind);
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, Math.Min(count, 4096));
            BytesRead += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, 4096)], cancellationToken);
            BytesRead += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
