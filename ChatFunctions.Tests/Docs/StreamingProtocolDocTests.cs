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

    private static string Normalize(string transcript) =>
        Metrics().Replace(RequestId().Replace(transcript.Replace("\r\n", "\n", StringComparison.Ordinal).Trim(), "\"requestId\":\"…\""), "\"metrics\":{…}");

    [Fact]
    public async Task TheDocumentedTranscript_IsWhatTheAppSends()
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FakeScript.Reply("Hello", "! ", "안녕하세요", " 👋\n\n", "```js\nconsole.log(\"hi\");\n```") with { PromptTokens = 18 };
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

        var doc = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "docs", "streaming-protocol.md"));
        var from = doc.IndexOf(Start, StringComparison.Ordinal);
        var to = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, "the doc has transcript markers");
        var documented = doc[(from + Start.Length)..to].Trim();
        documented = documented[(documented.IndexOf('\n', StringComparison.Ordinal) + 1)..documented.LastIndexOf("```", StringComparison.Ordinal)];

        Assert.True(Normalize(documented) == Normalize(actual), "docs/streaming-protocol.md is out of date; the app now sends:\n" + actual);
    }

    internal static string RepositoryRoot() => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));
}
