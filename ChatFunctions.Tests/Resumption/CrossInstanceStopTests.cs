using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ChatFunctions.Configuration;
using ChatFunctions.Resumption;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using FakeAzureOpenAI;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// Stop means stop on every instance: two app processes sharing one Azurite, the reply produced on A, DELETE sent to B.
/// B answers 204 only once A's model call has ended (the fake model server sees the abort first), within the
/// producer's contact interval plus store round trips, whether A's client is still attached or not, and whether the
/// model is streaming or silent; every attached client gets the <c>cancelled</c> ending. A stop nobody confirms is a
/// 504, never a 204.
/// </summary>
[Collection(UsesAzurite.Name)]
[Trait("Category", "Resume")]
public sealed class CrossInstanceStopTests(AzuriteServer azurite, ITestOutputHelper output)
{
    private static readonly ResumeOptions Defaults = new();

    /// <summary>The producer meets the stop at its next contact with the store, every two flush intervals.</summary>
    private static readonly TimeSpan ContactInterval = Defaults.FlushInterval * ReplyPersister.ContactBeats;

    /// <summary>Store round trips between the DELETE and the abort, as rounds of a read, a metadata write and an append:
    /// B's four before the cancel is in (state, tail, the cancel's read and write), two more if the cancel raced an
    /// append and was written again, A's append in flight, its failed append and its read of the state; one more for a
    /// round that runs slower than the timed ones.</summary>
    private const int Rounds = 4;

    /// <summary>The least a round counts for: the rounds are timed a moment before the DELETE, and the tests that run in
    /// parallel with this one can load the box more a second later.</summary>
    private static readonly TimeSpan MinimumRound = TimeSpan.FromMilliseconds(300);

    /// <summary>Two processes' scheduling and HTTP on top of the round trips.</summary>
    private static readonly TimeSpan SchedulingAllowance = TimeSpan.FromMilliseconds(500);

    // 40 tokens at 250 ms: the model is still streaming ten seconds later, so a stop that does not stop shows.
    private static FakeScript LongReply => ResumeAtRandomCutsTests.DeterministicReply(TimeSpan.FromMilliseconds(250));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DELETE_on_B_while_the_client_stays_on_A_aborts_A_s_model_call_within_the_contact_interval_and_both_readers_get_cancelled_before_the_204(bool modelSilent)
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString());
        apps.Fake.DefaultScript = modelSilent ? LongReply with { StallAfterTokens = 2 } : LongReply;
        using var a = RawSse.NonDrainingClient(apps.A.BaseAddress);
        using var b = RawSse.NonDrainingClient(apps.B.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var (response, onA) = await RawSse.OpenPostAsync(a, "stop me", cts.Token);
        using var _ = response;
        var first = await onA.ReadAsync(3, cts.Token);
        var streamId = RawSse.StreamIdOf(first[0].Text);
        var restOnA = onA.ReadAsync(int.MaxValue, cts.Token);
        // A second reader follows from B, as a resumed tab would, and has said so in the store (its mark, like the stop,
        // is a metadata write: the stop is timed alone, not racing the mark).
        var onB = RawSse.ReadAllAsync(b, RawSse.Resume(streamId, $"{streamId}:3"), cts.Token);
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), TimeProvider.System);
        while ((await store.GetStateAsync(streamId, cts.Token))?.ReaderSeenAt is null)
        {
            await Task.Delay(Poll.RequestInterval, cts.Token);
        }

        var request = Assert.Single(apps.Fake.Requests);

        var bound = await AbortBoundAsync(cts.Token);
        var (answered, status, deleteSent) = await DeleteAsync(b, streamId, cts.Token);

        Assert.Equal(HttpStatusCode.NoContent, status);
        await AssertStoredEndingIsCancelledAsync(store, streamId, cts.Token);
        var aborted = await WireHost.WaitForAbortAsync(request, WireHost.AbortHangBound);
        var abortAfter = Stopwatch.GetElapsedTime(deleteSent, aborted);
        output.WriteLine($"DELETE on B (client attached on A, model {(modelSilent ? "silent" : "streaming")}): A's upstream aborted {abortAfter.TotalMilliseconds:F0} ms after it was sent, 204 after {Stopwatch.GetElapsedTime(deleteSent, answered).TotalMilliseconds:F0} ms (bound {bound.TotalMilliseconds:F0} ms)");
        Assert.True(abortAfter < bound, $"A's upstream was aborted {abortAfter.TotalMilliseconds:F0} ms after the DELETE (bound {bound.TotalMilliseconds:F0} ms)");
        Assert.True(request.TokenSentTimestamps.Count < LongReply.Tokens.Count, "the model finished the reply: nothing was stopped");

        // The client that stayed on A and the one on B both end with cancelled, the same bytes.
        var transcriptA = string.Concat(first.Concat(await restOnA).Select(f => f.Text));
        var framesA = WireHost.ParseFrames(transcriptA);
        SseClient.AssertWellFormed(framesA);
        FrameAssert.Done(framesA[^1], "cancelled");
        var transcriptB = await onB;
        Assert.Equal(transcriptA[string.Concat(first.Select(f => f.Text)).Length..], transcriptB);
        Assert.Single(apps.Fake.Requests);
    }

    [Fact]
    public async Task DELETE_on_B_with_no_client_attached_aborts_A_s_model_call_before_the_204_and_a_resume_sees_cancelled()
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString());
        apps.Fake.DefaultScript = LongReply;
        using var a = RawSse.NonDrainingClient(apps.A.BaseAddress);
        using var b = RawSse.NonDrainingClient(apps.B.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var first = await RawSse.ReadFramesAsync(a, RawSse.Post("stop me unattended"), 3, cts.Token);
        var streamId = RawSse.StreamIdOf(first[0].Text);
        var request = Assert.Single(apps.Fake.Requests);

        var bound = await AbortBoundAsync(cts.Token);
        var (_, status, deleteSent) = await DeleteAsync(b, streamId, cts.Token);

        Assert.Equal(HttpStatusCode.NoContent, status);
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), TimeProvider.System);
        await AssertStoredEndingIsCancelledAsync(store, streamId, cts.Token);
        var aborted = await WireHost.WaitForAbortAsync(request, WireHost.AbortHangBound);
        var abortAfter = Stopwatch.GetElapsedTime(deleteSent, aborted);
        output.WriteLine($"DELETE on B (no client attached): A's upstream aborted {abortAfter.TotalMilliseconds:F0} ms after it was sent (bound {bound.TotalMilliseconds:F0} ms)");
        Assert.True(abortAfter < bound, $"aborted {abortAfter.TotalMilliseconds:F0} ms after the DELETE (bound {bound.TotalMilliseconds:F0} ms)");

        foreach (var client in new[] { a, b })
        {
            var frames = WireHost.ParseFrames(string.Concat(first.Select(f => f.Text)) + await RawSse.ReadAllAsync(client, RawSse.Resume(streamId, $"{streamId}:3"), cts.Token));
            SseClient.AssertWellFormed(frames);
            FrameAssert.Done(frames[^1], "cancelled");
        }

        // Stopping what has ended is done at once: nothing runs.
        var again = await DeleteAsync(b, streamId, cts.Token);
        Assert.Equal(HttpStatusCode.NoContent, again.Status);
    }

    [Fact]
    public async Task DELETE_of_an_unknown_a_malformed_or_another_caller_s_stream_is_refused_on_both_and_reaches_no_model()
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString());
        using var a = RawSse.NonDrainingClient(apps.A.BaseAddress);
        using var b = RawSse.NonDrainingClient(apps.B.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Another caller's stream: its log names an owner, and an anonymous caller is not it.
        var foreign = StreamId.New();
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), TimeProvider.System);
        await store.CreateAsync(foreign, "someone-else", cts.Token);
        await store.AppendAsync(foreign, 0, Encoding.UTF8.GetBytes($"id: {foreign}:1\ndata: {{\"meta\":{{}}}}\n\n"), cts.Token);

        foreach (var client in new[] { a, b })
        {
            using (var unknown = await client.DeleteAsync($"/api/chat/streams/{StreamId.New()}", cts.Token))
            {
                await AssertProblemAsync(unknown, 404, "streamId");
            }

            using (var theirs = await client.DeleteAsync($"/api/chat/streams/{foreign}", cts.Token))
            {
                await AssertProblemAsync(theirs, 404, "streamId");
            }

            using var malformed = await client.DeleteAsync("/api/chat/streams/not-a-stream-id", cts.Token);
            await AssertProblemAsync(malformed, 400, "streamId");
        }

        Assert.False((await store.GetStateAsync(foreign, cts.Token))!.CancelRequested);
        Assert.Empty(apps.Fake.Requests);
    }

    [Fact]
    public async Task A_stop_whose_producer_never_confirms_it_is_a_504_after_the_confirmation_wait_never_a_204()
    {
        await using var apps = await TwoInstances.StartAsync(azurite.ConnectionString());
        using var b = RawSse.NonDrainingClient(apps.B.BaseAddress);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // A log that looks live (written just now, no done frame) but that no instance produces: nobody can confirm.
        var orphan = StreamId.New();
        var store = new BlobStreamLogStore(new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions()), TimeProvider.System);
        await store.CreateAsync(orphan, null, cts.Token);
        await store.AppendAsync(orphan, 0, Encoding.UTF8.GetBytes($"id: {orphan}:1\ndata: {{\"meta\":{{}}}}\n\n"), cts.Token);

        var sent = Stopwatch.GetTimestamp();
        using var stop = await b.DeleteAsync($"/api/chat/streams/{orphan}", cts.Token);
        var took = Stopwatch.GetElapsedTime(sent);

        await AssertProblemAsync(stop, 504, "streamId");
        var confirmWait = ContactInterval + Defaults.FlushInterval + StreamResumer.StopConfirmAllowance;
        output.WriteLine($"unconfirmed stop answered after {took.TotalMilliseconds:F0} ms (wait {confirmWait.TotalMilliseconds} ms)");
        Assert.True(took >= confirmWait, $"gave up after {took.TotalMilliseconds:F0} ms, before the {confirmWait.TotalMilliseconds} ms wait");
        Assert.True((await store.GetStateAsync(orphan, cts.Token))!.CancelRequested);
    }

    /// <summary>
    /// The abort's bound: the producer's contact interval (from the settings) plus <see cref="Rounds"/> rounds of store
    /// calls as this Azurite answers them now, plus <see cref="SchedulingAllowance"/>. A round is the slowest of three
    /// timed just before the DELETE, at least <see cref="MinimumRound"/>: on a quiet machine a few milliseconds (the
    /// bound is then 2.2 s, against a reply that runs 10 s), on this shared 2-core box under load several hundred,
    /// and the test must pass on both.
    /// </summary>
    private async Task<TimeSpan> AbortBoundAsync(CancellationToken cancellationToken)
    {
        var blob = new BlobServiceClient(azurite.ConnectionString(), BlobStreamLogStore.CreateClientOptions())
            .GetBlobContainerClient(BlobStreamLogStore.ContainerName).GetAppendBlobClient(StreamId.New());
        await blob.CreateAsync(new AppendBlobCreateOptions(), cancellationToken);
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 3; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
            await blob.SetMetadataAsync(new Dictionary<string, string> { ["probe"] = $"{i}" }, new BlobRequestConditions { IfMatch = properties.ETag }, cancellationToken);
            using var frame = new MemoryStream(Encoding.UTF8.GetBytes("data: {}\n\n"));
            await blob.AppendBlockAsync(frame, cancellationToken: cancellationToken);
            var took = Stopwatch.GetElapsedTime(started);
            slowest = took > slowest ? took : slowest;
        }

        return ContactInterval + ((slowest > MinimumRound ? slowest : MinimumRound) * Rounds) + SchedulingAllowance;
    }

    /// <summary>
    /// What the 204 promises, checked the moment it arrives: the stored log already ends with the producer's done frame
    /// <c>cancelled</c>, which the producer writes only once its model call has ended. (The fake model server sees the
    /// abort when its own server notices the closed connection, which on a loaded machine can come after the 204;
    /// the tests bound that separately.)
    /// </summary>
    private static async Task AssertStoredEndingIsCancelledAsync(BlobStreamLogStore store, string streamId, CancellationToken cancellationToken)
    {
        var stored = Encoding.UTF8.GetString((await store.ReadAsync(streamId, 0, cancellationToken))!.Bytes.Span);
        var last = stored.TrimEnd('\n').Split("\n\n")[^1];
        Assert.Contains("data: {\"done\":true,\"finishReason\":\"cancelled\"", last, StringComparison.Ordinal);
    }

    private static async Task<(long Answered, HttpStatusCode Status, long Sent)> DeleteAsync(HttpClient client, string streamId, CancellationToken cancellationToken)
    {
        var sent = Stopwatch.GetTimestamp();
        using var response = await client.DeleteAsync($"/api/chat/streams/{streamId}", cancellationToken);
        return (Stopwatch.GetTimestamp(), response.StatusCode, sent);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, int status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(JsonNode.Parse(text)!["errors"]!.AsObject().ContainsKey(field), text);
    }
}
