using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using FakeAzureOpenAI;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// The resume promise (a dropped connection continues the same reply), tested the way connections really fail: a deterministic reply is cut at 100 random (seeded,
/// reproducible) byte positions, and each time the client resumes with the id of the last whole frame it had. The
/// frames it kept plus the resumed ones must equal the uninterrupted transcript byte for byte (only the stream id,
/// request id and timing metrics differ between runs), and the model must have been called once per reply.
/// </summary>
[Trait("Category", "Resume")]
public sealed class ResumeAtRandomCutsTests(ITestOutputHelper output)
{
    private const int Seed = 20261125;
    private const int Cuts = 100;
    private const int Concurrency = 25;

    /// <summary>~40 tokens with what byte-exactness can trip on: multi-byte UTF-8, quotes, backslashes, line breaks, an emoji.</summary>
    internal static FakeScript DeterministicReply(TimeSpan interval) => new()
    {
        Tokens = [.. Enumerable.Range(0, 40).Select(i => (i % 8) switch
        {
            0 => $"Token {i} ",
            1 => "héllo ",
            2 => "\"quoted\" ",
            3 => "back\\slash ",
            4 => "line\n",
            5 => "안녕 ",
            6 => "👋 ",
            _ => $"{i}. ",
        })],
        TokenInterval = interval,
    };

    [Fact]
    public async Task A_reply_cut_at_100_random_points_and_resumed_equals_the_uninterrupted_reply_byte_for_byte_with_one_model_call_each()
    {
        await using var host = await WireHost.StartAsync();
        host.Fake.DefaultScript = DeterministicReply(TimeSpan.FromMilliseconds(20));
        using var client = RawSse.NonDrainingClient(host.App.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        var baseline = await RawSse.ReadAllAsync(client, RawSse.Post("baseline post"), cts.Token);
        var expected = RawSse.Normalize(baseline);
        // The EventSource request (GET with the message in the query) gets the same reply, byte for byte.
        Assert.Equal(expected, RawSse.Normalize(await RawSse.ReadAllAsync(client, RawSse.Get("baseline get"), cts.Token)));
        var metaBytes = System.Text.Encoding.UTF8.GetByteCount(baseline[..(baseline.IndexOf("\n\n", StringComparison.Ordinal) + 2)]);
        var totalBytes = System.Text.Encoding.UTF8.GetByteCount(baseline);
        Assert.Contains("\"finishReason\":\"stop\"", baseline, StringComparison.Ordinal);

        // Cut anywhere after the meta frame (before it the client has no stream id to resume: a new request is right).
        var random = new Random(Seed);
        var cuts = Enumerable.Range(0, Cuts).Select(i => new Cut(i, random.Next(metaBytes, totalBytes), (CutPath)(i % 3))).ToList();
        var results = new List<CutResult>();
        foreach (var batch in cuts.Chunk(Concurrency))
        {
            results.AddRange(await Task.WhenAll(batch.Select(cut => CutAndResumeAsync(client, cut, cts.Token))));
        }

        foreach (var result in results)
        {
            // One assertion per cut, naming it, so a failure is reproducible from the seed and the index.
            Assert.True(expected == RawSse.Normalize(result.Transcript),
                $"cut {result.Cut.Index} ({result.Cut.Path}) after {result.Cut.Bytes} bytes, resumed after {result.LastEventId}:\nexpected:\n{expected}\nactual:\n{RawSse.Normalize(result.Transcript)}");
        }

        var bodies = host.Fake.Requests.Select(r => r.Body.ToJsonString()).ToList();
        Assert.Equal(2 + Cuts, bodies.Count);
        foreach (var cut in cuts)
        {
            Assert.Equal(1, bodies.Count(b => b.Contains($"\"{cut.Message}\"", StringComparison.Ordinal)));
        }

        var midReply = results.Count(r => r.CutBeforeDone);
        output.WriteLine($"seed {Seed}: {Cuts} cuts between byte {metaBytes} and {totalBytes} of a {totalBytes}-byte reply; " +
            $"{midReply} cut before the done frame arrived; paths: {string.Join(", ", cuts.GroupBy(c => c.Path).Select(g => $"{g.Key} {g.Count()}"))}");
        Assert.True(midReply >= Cuts * 9 / 10, $"only {midReply} of {Cuts} cuts landed before the done frame: the test would not test resuming");
    }

    private static async Task<CutResult> CutAndResumeAsync(HttpClient client, Cut cut, CancellationToken cancellationToken)
    {
        var first = cut.Path == CutPath.EventSource ? RawSse.Get(cut.Message) : RawSse.Post(cut.Message);
        var received = await RawSse.ReadBytesThenDropAsync(client, first, cut.Bytes, cancellationToken);
        var (wholeFrames, lastEventId) = RawSse.WholeFramesOf(received);
        Assert.NotNull(lastEventId);
        var streamId = lastEventId[..lastEventId.IndexOf(':', StringComparison.Ordinal)];

        var resume = cut.Path switch
        {
            // EventSource reconnects to the same URL by itself, with the header.
            CutPath.EventSource => WithLastEventId(RawSse.Get(cut.Message), lastEventId),
            CutPath.ResumeHeader => RawSse.Resume(streamId, lastEventId),
            _ => new HttpRequestMessage(HttpMethod.Get, $"/api/chat/streams/{streamId}?lastEventId={Uri.EscapeDataString(lastEventId)}"),
        };
        var resumed = await RawSse.ReadAllAsync(client, resume, cancellationToken);
        return new CutResult(cut, lastEventId, wholeFrames + resumed, !wholeFrames.Contains("\"done\":true", StringComparison.Ordinal));
    }

    private static HttpRequestMessage WithLastEventId(HttpRequestMessage request, string lastEventId)
    {
        request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        return request;
    }

    private enum CutPath
    {
        EventSource,
        ResumeHeader,
        ResumeQuery,
    }

    private sealed record Cut(int Index, int Bytes, CutPath Path)
    {
        public string Message => $"cut {Index}";
    }

    private sealed record CutResult(Cut Cut, string LastEventId, string Transcript, bool CutBeforeDone);
}
