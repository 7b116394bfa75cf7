using System.Text;
using System.Text.RegularExpressions;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;

namespace ChatFunctions.Tests.Docs;

/// <summary>Keeps the transcript in docs/streaming-protocol.md true: it is regenerated from the real app and compared.</summary>
[Trait("Category", "Http")]
public partial class StreamingProtocolDocTests
{
    private const string Start = "<!-- transcript:start -->";
    private const string End = "<!-- transcript:end -->";

    [GeneratedRegex("\"requestId\":\"[^\"]*\"")]
    private static partial Regex RequestId();

    [GeneratedRegex("\"metrics\":\\{[^}]*\\}")]
    private static partial Regex Metrics();

    [GeneratedRegex("\"thinking\":\\{[^}]*\\}")]
    private static partial Regex Thinking();

    [GeneratedRegex("\"streamId\":\"([A-Za-z0-9_-]{22})\"")]
    private static partial Regex StreamIdField();

    [GeneratedRegex("^id: ([A-Za-z0-9_-]{22}):", RegexOptions.Multiline)]
    private static partial Regex StreamIdInEventId();

    /// <summary>Request ids, stream ids and timings differ between runs; everything else must match byte for byte.</summary>
    private static string Normalize(string transcript)
    {
        transcript = transcript.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
        var streamId = StreamIdField().Match(transcript) is { Success: true } field ? field.Groups[1].Value
            : StreamIdInEventId().Match(transcript) is { Success: true } id ? id.Groups[1].Value : null;
        if (streamId is not null)
        {
            transcript = transcript.Replace(streamId, "<streamId>", StringComparison.Ordinal);
        }

        transcript = Thinking().Replace(transcript, "\"thinking\":{…}");
        return Metrics().Replace(RequestId().Replace(transcript, "\"requestId\":\"…\""), "\"metrics\":{…}");
    }

    [Fact]
    public async Task TheDocumentedTranscript_IsWhatTheAppSends()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FakeScript.Reply("Hello", "! ", "안녕하세요", " 👋\n\n", "```js\nconsole.log(\"hi\");\n```") with { PromptTokens = 18, ReasoningTokens = 64 };
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_PROVIDER"] = "AzureOpenAI",
            ["AZURE_OPENAI_ENDPOINT"] = fake.Endpoint.ToString(),
            ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "gpt-4o-mini",
            ["AZURE_OPENAI_API_KEY"] = "test-key",
        });

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat/stream")
        {
            Content = new StringContent("{\"message\":\"Say hello\",\"history\":[]}", Encoding.UTF8, "application/json"),
        };
        using var response = await app.Client.SendAsync(request);
        var actual = await response.Content.ReadAsStringAsync();

        var documented = await DocumentedAsync(Start, End);
        Assert.True(Normalize(documented) == Normalize(actual), "docs/streaming-protocol.md is out of date; the app now sends:\n" + actual);
    }

    /// <summary>The resume transcript: a POST read to its fourth frame and dropped, then the resume that continues it.</summary>
    [Fact]
    public async Task TheDocumentedResumeTranscript_IsWhatTheAppSends()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FakeScript.Reply("Resumable ", "streams ", "continue ", "where ", "they ", "stopped.") with
        {
            PromptTokens = 12,
            TokenInterval = TimeSpan.FromMilliseconds(150),
        };
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_PROVIDER"] = "AzureOpenAI",
            ["AZURE_OPENAI_ENDPOINT"] = fake.Endpoint.ToString(),
            ["AZURE_OPENAI_CHAT_DEPLOYMENT"] = "gpt-4o-mini",
            ["AZURE_OPENAI_API_KEY"] = "test-key",
        });

        // The first connection: read meta, thinking and two chunks, then drop it while the model is still writing.
        var first = new StringBuilder();
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat/stream")
        {
            Content = new StringContent("{\"message\":\"Tell me about resuming\"}", Encoding.UTF8, "application/json"),
        })
        using (var response = await app.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            for (var blankLines = 0; blankLines < 4;)
            {
                var line = await reader.ReadLineAsync() ?? throw new InvalidOperationException("the stream ended early");
                first.Append(line).Append('\n');
                blankLines += line.Length == 0 ? 1 : 0;
            }
        }

        var lastId = first.ToString().Split('\n').Last(l => l.StartsWith("id: ", StringComparison.Ordinal))["id: ".Length..];
        var streamId = lastId[..lastId.IndexOf(':', StringComparison.Ordinal)];
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/api/chat/streams/{streamId}");
        resume.Headers.Add("Last-Event-ID", lastId);
        using var resumed = await app.Client.SendAsync(resume);
        var rest = await resumed.Content.ReadAsStringAsync();

        var actual = $"POST /api/chat/stream\n\n{first}(connection lost)\n\nGET /api/chat/streams/{streamId}\nLast-Event-ID: {lastId}\n\n{rest}";
        var documented = await DocumentedAsync(ResumeStart, ResumeEnd);
        Assert.True(Normalize(documented) == Normalize(actual), "docs/streaming-protocol.md's resume transcript is out of date; the app now sends:\n" + actual);
    }

    private const string ResumeStart = "<!-- resume-transcript:start -->";
    private const string ResumeEnd = "<!-- resume-transcript:end -->";

    private static async Task<string> DocumentedAsync(string start, string end)
    {
        var doc = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "docs", "streaming-protocol.md"));
        var from = doc.IndexOf(start, StringComparison.Ordinal);
        var to = doc.IndexOf(end, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"the doc has the markers {start} and {end}");
        var documented = doc[(from + start.Length)..to].Trim();
        return documented[(documented.IndexOf('\n', StringComparison.Ordinal) + 1)..documented.LastIndexOf("```", StringComparison.Ordinal)];
    }

    internal static string RepositoryRoot() => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));
}
