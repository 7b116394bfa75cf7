using System.Net;
using System.Text.Json.Nodes;
using ChatFunctions.Tests.TestInfrastructure;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Resumption;

/// <summary>
/// Hostile stream ids and Last-Event-IDs over real HTTP: each gets a clean 4xx problem naming
/// the field, or a correct replay; never a 500, never a hang, and never a frame of a stream the request did not name.
/// </summary>
[Trait("Category", "Resume")]
public sealed class HostileResumeRequestTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AppServer _app = null!;
    private HttpClient _client = null!;
    private string _finished = null!;
    private string _finishedTranscript = null!;
    private string _other = null!;

    public async Task InitializeAsync()
    {
        _app = await AppServer.StartAsync();
        _client = RawSse.NonDrainingClient(_app.BaseAddress);
        _client.Timeout = TimeSpan.FromSeconds(30);
        _finishedTranscript = await RawSse.ReadAllAsync(_client, RawSse.Post("first [demo:tokens=5]"), default);
        _finished = RawSse.StreamIdOf(_finishedTranscript);
        _other = RawSse.StreamIdOf(await RawSse.ReadAllAsync(_client, RawSse.Post("second [demo:tokens=5]"), default));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    public static TheoryData<string, string> BadStreamIds => new()
    {
        { "garbage", "streamId" },
        { "not-22-chars-but-21-x", "streamId" },
        { "AAAAAAAAAAAAAAAAAAAAAAA", "streamId" },      // 23 characters
        { "AAAAAAAAAAAAAAAAAAAAA%2B", "streamId" },     // '+' is not base64url
        { "..%2F..%2F..%2Fetc%2Fpasswd", "streamId" },
        { new string('A', 2_000), "streamId" },
    };

    [Theory]
    [MemberData(nameof(BadStreamIds))]
    public async Task A_malformed_stream_id_gets_a_400_problem_naming_streamId_for_resume_and_for_stop(string streamId, string field)
    {
        using var resume = await _client.GetAsync($"/api/chat/streams/{streamId}");
        await AssertProblemAsync(resume, 400, field);
        using var stop = await _client.DeleteAsync($"/api/chat/streams/{streamId}");
        await AssertProblemAsync(stop, 400, field);
    }

    [Fact]
    public async Task A_well_formed_id_of_no_stream_gets_a_404_problem_for_resume_for_stop_and_for_an_EventSource_reconnect()
    {
        const string unknown = "AAAAAAAAAAAAAAAAAAAAAA";
        using var resume = await _client.GetAsync($"/api/chat/streams/{unknown}");
        await AssertProblemAsync(resume, 404, "streamId");
        using var stop = await _client.DeleteAsync($"/api/chat/streams/{unknown}");
        await AssertProblemAsync(stop, 404, "streamId");
        using var reconnect = await SendAsync(RawSse.Get("hello"), $"{unknown}:3");
        await AssertProblemAsync(reconnect, 404, "streamId");
    }

    public static TheoryData<string> BadLastEventIds => new()
    {
        "garbage",
        "7",                                     // the old numeric ids, no stream
        "-1",
        ":",
        "{0}",                                   // the stream id alone
        "{0}:",
        "{0}:-1",
        "{0}:0",
        "{0}:+3",
        "{0}:3.0",
        "{0}:0x10",
        "{0}:99999999999",                        // past int
        "{0}:1e3",
        "{0}:3:4",
        "{0}:٣",                                  // a non-ASCII digit
        "{0} 3",
        "{1}:2",                                  // another stream's id
        "{0}:1000000",                            // past the end of the finished stream
    };

    [Theory]
    [MemberData(nameof(BadLastEventIds))]
    public async Task A_bad_Last_Event_ID_gets_a_400_problem_naming_it_in_the_header_and_in_the_query(string template)
    {
        var value = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, _finished, _other);
        using var header = await SendAsync(RawSse.Resume(_finished, null), value);
        await AssertProblemAsync(header, 400, "Last-Event-ID");
        using var query = await _client.GetAsync($"/api/chat/streams/{_finished}?lastEventId={Uri.EscapeDataString(value)}");
        await AssertProblemAsync(query, 400, "Last-Event-ID");
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("-1")]
    [InlineData("12")]
    public async Task An_EventSource_reconnect_with_a_malformed_Last_Event_ID_gets_a_400_problem_not_a_new_reply(string value)
    {
        using var reconnect = await SendAsync(RawSse.Get("hello [demo:tokens=3]"), value);
        await AssertProblemAsync(reconnect, 400, "Last-Event-ID");
    }

    [Fact]
    public async Task Two_Last_Event_ID_headers_get_a_400_problem()
    {
        using var request = RawSse.Resume(_finished, $"{_finished}:1");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", $"{_finished}:2");
        using var response = await _client.SendAsync(request);
        await AssertProblemAsync(response, 400, "Last-Event-ID");
    }

    [Fact]
    public async Task A_10_KB_Last_Event_ID_gets_a_400_problem_in_the_header_and_a_clean_4xx_in_the_query()
    {
        var huge = $"{_finished}:{new string('1', 10 * 1024)}";
        using var header = await SendAsync(RawSse.Resume(_finished, null), huge);
        await AssertProblemAsync(header, 400, "Last-Event-ID");
        var padded = $"{_finished}:" + new string('0', 10 * 1024) + "1";
        using var paddedHeader = await SendAsync(RawSse.Resume(_finished, null), padded);
        await AssertProblemAsync(paddedHeader, 400, "Last-Event-ID");

        // 10 KB in the URL is past Kestrel's request-line limit (8 KiB): refused before the app, still a 4xx.
        using var query = await _client.GetAsync($"/api/chat/streams/{_finished}?lastEventId={Uri.EscapeDataString(huge)}");
        output.WriteLine($"10 KB lastEventId in the query: {(int)query.StatusCode} {query.Content.Headers.ContentType}");
        Assert.InRange((int)query.StatusCode, 400, 499);
        await AssertNoForeignFramesAsync(query);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(7)]
    public async Task A_valid_position_replays_exactly_the_frames_after_it(int sequence)
    {
        var frames = _finishedTranscript.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(f => f + "\n\n").ToList();
        Assert.Equal(7, frames.Count); // meta, 5 chunks, done
        using var response = await SendAsync(RawSse.Resume(_finished, null), sequence == 0 ? null : $"{_finished}:{sequence}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(string.Concat(frames.Skip(sequence)), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_position_with_leading_zeros_or_spaces_is_the_same_position()
    {
        using var response = await SendAsync(RawSse.Resume(_finished, null), $" {_finished}:0004 ");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var plain = await SendAsync(RawSse.Resume(_finished, null), $"{_finished}:4");
        Assert.Equal(await plain.Content.ReadAsStringAsync(), await response.Content.ReadAsStringAsync());
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string? lastEventId)
    {
        using (request)
        {
            if (lastEventId is not null)
            {
                request.Headers.Remove("Last-Event-ID");
                Assert.True(request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId));
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var response = await _client.SendAsync(request, timeout.Token);
            // Buffer it so the caller reads it after the request is gone.
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            return response;
        }
    }

    /// <summary>A problem+json answer with the status and the field, and nothing of any stream in it.</summary>
    private async Task AssertProblemAsync(HttpResponseMessage response, int status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(status, problem["status"]!.GetValue<int>());
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"errors names '{field}': {text}");
        await AssertNoForeignFramesAsync(response);
    }

    private async Task AssertNoForeignFramesAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("data:", text, StringComparison.Ordinal);
        Assert.DoesNotContain(_other, text, StringComparison.Ordinal);
        Assert.DoesNotContain("chunk", text, StringComparison.Ordinal);
    }
}
