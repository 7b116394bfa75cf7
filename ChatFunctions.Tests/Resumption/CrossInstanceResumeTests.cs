using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using ChatFunctions.Resumption;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// Two app processes sharing one Azurite: a stream started on A resumes on B mid-reply
/// (B replays the stored frames and follows new ones until done) and after done (a replay), byte for byte; an expired
/// stream is 410 on both. Stops across instances: <see cref="CrossInstanceStopTests"/>. The resume delay behind the
/// producer is printed, not bounded: on a shared machine the emulator's round trips set it, so its percentiles are the
/// benchmark's (`bench --resume`, docs/benchmarks.md), whose smoke test is ResumeBenchSmokeTests.
/// </summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Resume")]
public sealed class CrossInstanceResumeTests(AzuriteServer azurite, ITestOutputHelper output)
{
    private const int Replies = 6;

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_stream_started_on_A_resumes_on_B_mid_reply_and_after_done_byte_for_byte_with_one_model_call(string api)
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString(), new Dictionary<string, string> { ["CHAT_API"] = api });
        apps.Fake.DefaultScript = ResumeAtRandomCutsTests.DeterministicReply(TimeSpan.FromMilliseconds(50));
        using var a = RawSse.NonDrainingClient(apps.A.BaseAddress);
        using var b = RawSse.NonDrainingClient(apps.B.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        var baseline = await RawSse.ReadAllAsync(a, RawSse.Post("baseline"), cts.Token);
        var expected = RawSse.Normalize(baseline);

        // After done: B never saw it, and replays it from the store exactly as A sent it.
        var baselineId = RawSse.StreamIdOf(baseline);
        await WaitUntilStoredAsync(b, baselineId, baseline, cts.Token);
        Assert.Equal(baseline, await RawSse.ReadAllAsync(b, RawSse.Resume(baselineId, null), cts.Token));
        var afterFifth = string.Concat(baseline.Split("\n\n").Take(5).Select(f => f + "\n\n"));
        Assert.Equal(baseline[afterFifth.Length..], await RawSse.ReadAllAsync(b, RawSse.Resume(baselineId, $"{baselineId}:5"), cts.Token));

        // Mid-reply: half the replies keep their reader on A (the producer's own delivery, for the delay), half are cut.
        var runs = await Task.WhenAll(Enumerable.Range(0, Replies).Select(i => StartOnAResumeOnBAsync(a, b, $"reply {i}", keepA: i % 2 == 0, cts.Token)));

        var delays = new List<double>();
        foreach (var run in runs)
        {
            Assert.Equal(expected, RawSse.Normalize(run.Transcript));
            var request = Assert.Single(apps.Fake.Requests, r => r.Body.ToJsonString().Contains($"\"{run.Message}\"", StringComparison.Ordinal));
            Assert.True(request.TokenSentTimestamps.Max() > run.ResumeStarted, $"{run.Message}: the model had finished before B resumed: not a mid-reply resume");
            Assert.Equal(1, apps.ModelCallsFor(run.Message));
            delays.AddRange(run.DelaysMs);
        }

        delays.Sort();
        double At(double q) => delays[Math.Clamp((int)Math.Ceiling(q * delays.Count) - 1, 0, delays.Count - 1)];
        output.WriteLine($"resume on B behind the producer A, per frame ({delays.Count} frames of {Replies / 2} replies, flush 250 ms, read after each beat): " +
            $"p50 {At(0.5):F0} ms, p99 {At(0.99):F0} ms, max {delays[^1]:F0} ms");
        Assert.Equal(1 + Replies, apps.Fake.Requests.Count);
    }

    [Fact]
    public async Task An_expired_stream_is_410_on_both_instances_for_the_resume_and_the_EventSource_reconnect()
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString());
        using var a = RawSse.NonDrainingClient(apps.A.BaseAddress);
        using var b = RawSse.NonDrainingClient(apps.B.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Expired: a stream whose log was created two hours ago (retention 60 minutes) is gone on both instances.
        var expired = StreamId.New();
        var aged = new FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromHours(2));
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), aged);
        await store.CreateAsync(expired, null, cts.Token);
        var oldFrames = Encoding.UTF8.GetBytes($"id: {expired}:1\ndata: {{\"meta\":{{}}}}\n\n");
        await store.AppendAsync(expired, 0, oldFrames, cts.Token);
        foreach (var client in new[] { a, b })
        {
            using var resume = await client.GetAsync($"/api/chat/streams/{expired}", cts.Token);
            await AssertProblemAsync(resume, 410, "streamId");
            using var reconnect = new HttpRequestMessage(HttpMethod.Get, "/api/chat/stream?message=hi");
            reconnect.Headers.TryAddWithoutValidation("Last-Event-ID", $"{expired}:1");
            using var eventSource = await client.SendAsync(reconnect, cts.Token);
            await AssertProblemAsync(eventSource, 410, "streamId");
        }

        Assert.Empty(apps.Fake.Requests);
    }

    [Fact]
    public async Task A_long_reply_resumed_on_its_own_instance_from_frames_its_log_released_gets_them_from_the_store_then_goes_on_live()
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString());
        // 600 varied tokens at 10 ms: while A's client reads, A appends a batch a second and its log releases what the
        // store has, so three seconds in the early frames are only in the store.
        var words = ResumeAtRandomCutsTests.DeterministicReply(TimeSpan.Zero).Tokens;
        apps.Fake.DefaultScript = new FakeAzureOpenAI.FakeScript { Tokens = [.. Enumerable.Range(0, 600).Select(i => words[i % words.Count])], TokenInterval = TimeSpan.FromMilliseconds(10) };
        using var a = RawSse.NonDrainingClient(apps.A.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var (response, client) = await RawSse.OpenPostAsync(a, "a long one", cts.Token);
        using var cut = response;
        var first = await client.ReadAsync(300, cts.Token);
        var streamId = RawSse.StreamIdOf(first[0].Text);

        var resumeStarted = Stopwatch.GetTimestamp();
        var resumedTask = RawSse.ReadAllAsync(a, RawSse.Resume(streamId, $"{streamId}:5"), cts.Token);
        var rest = await client.ReadAsync(int.MaxValue, cts.Token);
        var resumed = await resumedTask;

        var whole = string.Concat(first.Concat(rest).Select(f => f.Text));
        SseClient.AssertWellFormed(WireHost.ParseFrames(whole));
        Assert.Equal(603, first.Count + rest.Count); // meta, thinking, 600 chunks, done
        var afterFifth = string.Concat(first.Take(5).Select(f => f.Text));
        Assert.Equal(whole[afterFifth.Length..], resumed);
        var request = Assert.Single(apps.Fake.Requests);
        Assert.True(request.TokenSentTimestamps.Max() > resumeStarted, "the model had finished before the resume: not a mid-reply resume");
    }

    private static async Task<Run> StartOnAResumeOnBAsync(HttpClient a, HttpClient b, string message, bool keepA, CancellationToken cancellationToken)
    {
        var (response, readerA) = await RawSse.OpenPostAsync(a, message, cancellationToken);
        var first = await readerA.ReadAsync(3, cancellationToken);
        var streamId = RawSse.StreamIdOf(first[0].Text);
        Task<List<RawFrame>> restOnA;
        if (keepA)
        {
            restOnA = readerA.ReadAsync(int.MaxValue, cancellationToken);
        }
        else
        {
            response.Dispose();
            restOnA = Task.FromResult(new List<RawFrame>());
        }

        var resumeStarted = Stopwatch.GetTimestamp();
        var onB = await RawSse.ReadFramesAsync(b, RawSse.Resume(streamId, $"{streamId}:3"), int.MaxValue, cancellationToken);
        var fromA = await restOnA;
        response.Dispose();

        var delays = new List<double>();
        foreach (var frame in onB)
        {
            if (fromA.FirstOrDefault(f => f.Sequence == frame.Sequence) is { } live)
            {
                delays.Add(Stopwatch.GetElapsedTime(live.ArrivedTimestamp, frame.ArrivedTimestamp).TotalMilliseconds);
            }
        }

        if (keepA)
        {
            Assert.Equal(string.Concat(fromA.Select(f => f.Text)), string.Concat(onB.Select(f => f.Text)));
        }

        return new Run(message, string.Concat(first.Concat(onB).Select(f => f.Text)), delays, resumeStarted);
    }

    private static async Task WaitUntilStoredAsync(HttpClient b, string streamId, string transcript, CancellationToken cancellationToken)
    {
        // The producer appends its last batch within a flush interval after done: polled until it has, within a bound
        // that only ends a test that would hang (a loaded Azurite answers in seconds, not in the interval).
        var polling = System.Diagnostics.Stopwatch.StartNew();
        while (polling.Elapsed < TimeSpan.FromSeconds(30))
        {
            using var response = await b.GetAsync($"/api/chat/streams/{streamId}", cancellationToken);
            if (response.StatusCode == HttpStatusCode.OK && await response.Content.ReadAsStringAsync(cancellationToken) == transcript)
            {
                return;
            }

            await Task.Delay(Poll.RequestInterval, cancellationToken);
        }
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, int status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(JsonNode.Parse(text)!["errors"]!.AsObject().ContainsKey(field), text);
    }

    private sealed record Run(string Message, string Transcript, List<double> DelaysMs, long ResumeStarted);
}
