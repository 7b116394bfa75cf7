using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ChatFunctions.Streaming;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Resumption;
using FakeAzureOpenAI;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace ChatFunctions.Tests.Wire;

/// <summary>
/// Over a real socket: a client that stops reading (a small receive buffer it never reads) against a fast
/// upstream with ~20 MB to say. The app must stop reading the model (backpressure), so the memory a stalled stream
/// holds is bounded, and must drop a client that accepts nothing for the stall timeout, aborting its upstream.
/// </summary>
[Trait("Category", "Wire")]
[Collection(SerialWireGroup.Name)]
public sealed class StalledClientTests(ITestOutputHelper output)
{
    private const int TokenBytes = 1_000;
    private const int Tokens = 20_000; // 20 MB of text

    /// <summary>
    /// The stated bound. Backpressure stops the model reads once the client is 16 KiB behind what went into Kestrel's
    /// pipe (<c>ChatStreamer.ReaderHighWaterBytes</c>, plus Kestrel's 64 KiB); what the kernel's socket send buffer
    /// took before the client's window closed is beyond the app's sight, so a stalled stream's log is bounded by that
    /// buffer (Linux: net.ipv4.tcp_wmem's maximum, 4 MiB by default; on loopback it fills) plus 256 KiB. Resident
    /// memory per stalled stream is measured against its log, which is its only copy: the in-memory store takes a reply
    /// only once it is complete, and the telemetry keeps no update (a growing second copy in the store and a middleware
    /// that keeps every update's text made it about 5 times the log). Measured: 1.0–1.2 times the log. The bound
    /// asserted is twice the log (GC slack, the pipe's buffers) plus 1 MiB; without backpressure the app would read the
    /// whole 20 MB reply into memory per stalled stream.
    /// </summary>
    private const int ResidentPerLogByte = 2;

    private const int StalledStreams = 8;

    /// <summary>The heartbeat interval of the memory test's app: short, as its replays wait for one.</summary>
    private const int ReplayHeartbeatSeconds = 1;

    /// <summary>The allowance on a stalled client's drop beyond the stall timeout and one check period: the bytes the
    /// kernel may still take after the log's last growth (the stall counts from those) and a quiet machine's
    /// scheduling. Half the 2 s timeout: the faults it guards against are a client never dropped, or dropped a whole
    /// timeout late. A loaded machine adds <see cref="DropHandOffs"/> times what a <see cref="LatenessProbe"/> saw.</summary>
    private static readonly TimeSpan StallSchedulingAllowance = TimeSpan.FromSeconds(1);

    /// <summary>The waits for this process's timers or threads between a stall and the fake seeing the reset: the
    /// delivery's check timer, the stop's continuations that end the model call, the fake's read of the reset.</summary>
    private const int DropHandOffs = 3;

    /// <summary>The pause that counts as a plateau: the upstream sent nothing for this long.</summary>
    private static readonly TimeSpan Plateau = TimeSpan.FromSeconds(1);

    private static FakeScript FastHugeReply() => new()
    {
        Tokens = Enumerable.Repeat(new string('x', TokenBytes - 1) + " ", Tokens).ToList(),
        FilterChunkEvery = 0,
    };

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_client_that_stops_reading_stops_the_model_reads_so_memory_per_stalled_stream_is_bounded_by_the_socket_buffer_not_the_20_MB_reply(string api)
    {
        await using var fake = await FakeAzureOpenAIServer.StartAsync();
        fake.DefaultScript = FastHugeReply();
        var settings = Resumption.TwoInstances.Settings(fake.Endpoint, "");
        settings.Remove("AzureWebJobsStorage");
        settings["CHAT_MAX_OUTPUT_TOKENS"] = "128000";
        settings["CHAT_API"] = api;
        settings["CHAT_RESUME_GRACE_SECONDS"] = "0";
        settings["CHAT_CLIENT_STALL_TIMEOUT_SECONDS"] = "600";
        // A replay of a stalled stream's log never ends (the reply is still open): its reader knows it has everything
        // when the delivery, with nothing left to send, writes a heartbeat.
        settings["CHAT_HEARTBEAT_SECONDS"] = ReplayHeartbeatSeconds.ToString(CultureInfo.InvariantCulture);
        // A small gen0 budget, so short-lived garbage (the SDK's ~5 KB per chunk) is collected before it shows up as
        // resident memory and what remains is what the stalled streams hold.
        settings["DOTNET_GCgen0size"] = "0x400000";
        await using var app = await AppProcess.StartAsync(settings);

        // Warm-up (JIT, pools, the first heap segments): two stalled streams, then dropped.
        var warmUp = await OpenStalledAsync(app.BaseAddress, 2);
        await WaitForPlateauAsync(fake, 2);
        DropAll(warmUp);
        // With no grace window their replies end once the app sees the drops: the app closes both model connections
        // (watched on the sockets, as below: the fake can miss an abort that lands while it is blocked on a zero window).
        var settling = Stopwatch.StartNew();
        while (fake.Requests.Any(WireHost.IsAppSideOpen))
        {
            Assert.True(settling.Elapsed < TimeSpan.FromSeconds(30), "the warm-up's model connections stay open after its clients were dropped");
            await Task.Delay(Poll.StateInterval);
        }

        var before = app.ResidentBytes();
        var opened = await OpenStalledWithIdsAsync(app.BaseAddress, StalledStreams);
        var stalled = opened.Select(s => s.Socket).ToList();
        try
        {
            var sent = await WaitForPlateauAsync(fake, 2 + StalledStreams); // nothing is read any more: memory stays
            var after = app.ResidentBytes();
            var perStream = (after - before) / (double)StalledStreams;
            var upstream = sent.Skip(2).ToList();
            output.WriteLine($"app RSS {before / 1048576.0:F1} MiB → {after / 1048576.0:F1} MiB with {StalledStreams} stalled streams: " +
                $"{perStream / 1024:F0} KiB per stream ");
            output.WriteLine($"the fake could hand over {upstream.Min() * TokenBytes / 1048576.0:F1}–{upstream.Max() * TokenBytes / 1048576.0:F1} MiB " +
                $"of each {Tokens * TokenBytes / 1048576.0:F0} MB reply (the rest waits in loopback socket buffers or unsent)");

            // The reply's own log (kept whole for resuming) is what a replay from the first frame returns now. The
            // replays run side by side: each ends only at a heartbeat, a whole interval after it has read everything,
            // and one after another they would wait that interval once per stream. Memory was measured above.
            var logBytes = (await Task.WhenAll(opened.Select(s => PublishedBytesAsync(app.BaseAddress, s.StreamId)))).ToList();

            var beyondLog = perStream - logBytes.Average();
            output.WriteLine($"each stalled stream's log holds {logBytes.Min() / 1048576.0:F2}–{logBytes.Max() / 1048576.0:F2} MiB (what the kernel's socket buffers took " +
                $"before the client's window closed, plus 16 KiB); RSS beyond the log: {beyondLog / 1024:F0} KiB per stream");
            var socketBuffer = MaxSocketSendBuffer();
            Assert.All(logBytes, bytes => Assert.True(bytes <= socketBuffer + 256 * 1024,
                $"a stalled stream's log holds {bytes / 1048576.0:F2} MiB: more than the socket send buffer ({socketBuffer / 1048576.0:F2} MiB) + 256 KiB"));
            Assert.True(perStream < ResidentPerLogByte * logBytes.Average() + 1024 * 1024,
                $"{perStream / 1024:F0} KiB resident per stalled stream: more than {ResidentPerLogByte} × its {logBytes.Average() / 1024:F0} KiB log + 1 MiB");
            Assert.All(upstream, count => Assert.True(count < Tokens, "the app read the whole upstream reply for a client that reads nothing"));
        }
        finally
        {
            DropAll(stalled);
        }
    }

    [Theory]
    [MemberData(nameof(WireHost.Apis), MemberType = typeof(WireHost))]
    public async Task A_client_that_accepts_nothing_for_the_stall_timeout_is_dropped_and_its_upstream_aborted_within_the_timeout_plus_a_check_period_and_a_scheduling_allowance(string api)
    {
        const int stallSeconds = 2;
        await using var host = await WireHost.StartAsync(api, new Dictionary<string, string?>
        {
            ["CHAT_CLIENT_STALL_TIMEOUT_SECONDS"] = stallSeconds.ToString(CultureInfo.InvariantCulture),
            ["CHAT_RESUME_GRACE_SECONDS"] = "0",
            ["CHAT_MAX_OUTPUT_TOKENS"] = "128000",
        });
        host.Fake.DefaultScript = FastHugeReply();
        var stall = TimeSpan.FromSeconds(stallSeconds);

        await using var lateness = LatenessProbe.Start();
        var requested = Stopwatch.GetTimestamp();
        var opened = await OpenStalledWithIdsAsync(host.App.BaseAddress, 1);
        using var socket = opened[0].Socket;
        var stream = host.App.Services.GetRequiredService<LiveReplies>().Find(opened[0].StreamId);
        Assert.NotNull(stream);
        var request = await WaitForRequestAsync(host.Fake);
        // The reply's own connection to the model, named by both ports: the app may hold other, idle connections to
        // the same server in its pool (the start-up warm-up opens one), and those are not the reply's upstream.
        Assert.True(WireHost.IsAppSideOpen(request), "the app's connection to the model is not seen: the close below would prove nothing");

        // The upstream call is aborted when the app's end of its connection to the model closes. That is asserted on
        // the socket, not on the fake's record of the abort: with a 20 MB reply the fake can be mid-flush on a zero
        // window when the reset lands, and under the full suite it was seen to miss it.
        // When the log stops growing, the producer is waiting for the stalled reader: its flush was refused before that.
        // (When the dropped reader detaches, the producer may take a few more tokens before its stop lands: the
        // stall is the last pause of a second or more, not the last growth.)
        var growth = new List<long>();
        long written = -1;
        long? closedAt = null;
        // Generous: on a busy machine filling the socket buffers alone can take seconds; the timing asserted below
        // counts from when the stream stalled, not from the request.
        while (Stopwatch.GetElapsedTime(requested) < stall + TimeSpan.FromSeconds(30))
        {
            if (stream.Log.Written != written)
            {
                written = stream.Log.Written;
                growth.Add(Stopwatch.GetTimestamp());
            }

            if (!WireHost.IsAppSideOpen(request))
            {
                closedAt = Stopwatch.GetTimestamp();
                break;
            }

            await Task.Delay(Poll.StateInterval);
        }

        // The abort's time is the first sign of it: the fake's record of the reset (an event, timed when it happened)
        // when it has one, else the test's sight of the closed socket, which under load comes a poll or more late (seen:
        // the fake recorded the abort 1.1 s before the poll saw the socket gone).
        if (closedAt is { } seenClosed && request.AbortedTimestamp is { } recorded && recorded < seenClosed)
        {
            closedAt = recorded;
        }

        Assert.True(closedAt is not null,
            $"the app's connection to the model is still open {Stopwatch.GetElapsedTime(requested).TotalSeconds:F0} s after the request; the log holds {written} bytes, last grew {Stopwatch.GetElapsedTime(growth[^1]).TotalMilliseconds:F0} ms ago; " +
            $"the app's side: stop {stream.StopReason}, readers {stream.Log.ReaderCount}, log completed {stream.Log.IsCompleted}, client dropped logged {host.Logs.Entries.Any(e => e.EventId.Name == "ClientStalled")}");
        var aborted = closedAt.Value;
        Assert.Equal(StreamStopReason.Abandoned, stream.StopReason);
        growth.Add(aborted);
        // The stall is the last pause of a second or more before the abort (the final plateau).
        var stalledAt = growth.Zip(growth.Skip(1)).Last(pair => Stopwatch.GetElapsedTime(pair.First, pair.Second) >= Plateau).First;
        var sinceRequest = Stopwatch.GetElapsedTime(requested, aborted);
        var sinceStalled = Stopwatch.GetElapsedTime(stalledAt, aborted);
        output.WriteLine($"the log stopped growing {Stopwatch.GetElapsedTime(requested, stalledAt).TotalMilliseconds:F0} ms after the request (at {written / 1048576.0:F2} MiB when dropped); " +
            $"the app closed its upstream connection {sinceStalled.TotalMilliseconds:F0} ms after that ({sinceRequest.TotalMilliseconds:F0} ms after the request); stall timeout {stall.TotalMilliseconds} ms; " +
            $"timed by {(request.AbortedTimestamp == aborted ? "the fake's record of the reset" : "the socket poll")}; this process's timers ran up to {lateness.MaxLateness.TotalMilliseconds:F0} ms late");

        // Never before the client had stalled for the whole timeout; soon after it. The bound: the timeout, plus one
        // check period (StreamDelivery checks every timeout / 4), plus StallSchedulingAllowance for what the log's growth cannot
        // show (the kernel may still take bytes from the pipe after the log stops growing, and the stall counts from the
        // last of those) and for scheduling, which grows with how late this process's timers ran meanwhile. A client
        // that is never dropped fails it; so does one dropped a whole timeout late on a machine that is not overloaded.
        var bound = stall + stall / 4 + StallSchedulingAllowance + (DropHandOffs * lateness.MaxLateness);
        Assert.True(sinceRequest >= stall, $"dropped {sinceRequest.TotalMilliseconds:F0} ms after the request: before the stall timeout");
        Assert.True(sinceStalled <= bound, $"the upstream was aborted {sinceStalled.TotalMilliseconds:F0} ms after the stream stalled (stall timeout {stall.TotalMilliseconds} ms, " +
            $"bound {bound.TotalMilliseconds:F0} ms with this process's timers up to {lateness.MaxLateness.TotalMilliseconds:F0} ms late)");
        await host.Logs.WaitForAsync(e => e.EventId.Name == "ClientStalled", TimeSpan.FromSeconds(5));

        // The client's connection is closed: what it had buffered, then the end.
        Assert.True(await IsClosedAsync(socket, TimeSpan.FromSeconds(5)), "the stalled client's connection is still open");
    }

    private static async Task<List<Socket>> OpenStalledAsync(Uri baseAddress, int count) =>
        [.. (await OpenStalledWithIdsAsync(baseAddress, count)).Select(s => s.Socket)];

    /// <summary>Stalled clients that read only the response head and the meta frame (to learn the stream id), then nothing.</summary>
    private static async Task<List<(Socket Socket, string StreamId)>> OpenStalledWithIdsAsync(Uri baseAddress, int count)
    {
        var body = "{\"message\":\"please stall\"}";
        var request = Encoding.ASCII.GetBytes(
            $"POST /api/chat/stream HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n" +
            $"Content-Length: {body.Length}\r\n\r\n{body}");
        var sockets = new List<(Socket, string)>();
        for (var i = 0; i < count; i++)
        {
            // A small receive buffer that is never read: the client's window closes after a few KB.
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(IPAddress.Loopback, baseAddress.Port);
            await socket.SendAsync(request);
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().Contains("\nid: ", StringComparison.Ordinal) || !head.ToString().EndsWith('\n'))
            {
                Assert.Equal(1, await socket.ReceiveAsync(one));
                head.Append((char)one[0]);
            }

            var text = head.ToString();
            sockets.Add((socket, text[(text.LastIndexOf("id: ", StringComparison.Ordinal) + 4)..].Split(':')[0]));
        }

        return sockets;
    }

    /// <summary>Bytes of the stream's log after its meta frame, read by a replay up to the delivery's first heartbeat:
    /// the delivery writes one only once it has sent everything the log holds and then nothing for the heartbeat
    /// interval.</summary>
    private static async Task<long> PublishedBytesAsync(Uri baseAddress, string streamId)
    {
        using var client = TestInfrastructure.RawSse.NonDrainingClient(baseAddress);
        using var request = TestInfrastructure.RawSse.Resume(streamId, $"{streamId}:1");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // ends a hang; times nothing
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync(cts.Token);
        var heartbeat = ": keep-alive\n\n"u8.ToArray();
        var buffer = new byte[256 * 1024];
        var tail = new List<byte>();
        long total = 0;
        while (true)
        {
            var n = await body.ReadAsync(buffer, cts.Token);
            Assert.True(n > 0, "the replay of a stalled stream ended: its reply is not open any more");
            // The heartbeat may straddle two reads: look in what this read added plus the bytes just before it.
            tail.AddRange(buffer.AsSpan(0, n).ToArray());
            var at = tail.ToArray().AsSpan().IndexOf(heartbeat);
            if (at >= 0)
            {
                return total + at;
            }

            var keep = Math.Min(tail.Count, heartbeat.Length - 1);
            total += tail.Count - keep;
            tail.RemoveRange(0, tail.Count - keep);
        }
    }

    /// <summary>The most a TCP socket's send buffer may autotune to (Linux), else 4 MiB.</summary>
    private static long MaxSocketSendBuffer()
    {
        const string path = "/proc/sys/net/ipv4/tcp_wmem";
        return File.Exists(path) && File.ReadAllText(path).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries) is [_, _, var max]
            ? long.Parse(max, CultureInfo.InvariantCulture)
            : 4L * 1024 * 1024;
    }

    private static void DropAll(List<Socket> sockets)
    {
        foreach (var socket in sockets)
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Dispose();
        }
    }

    private static async Task<RecordedRequest> WaitForRequestAsync(FakeAzureOpenAIServer fake)
    {
        var clock = Stopwatch.StartNew();
        while (fake.Requests.Count == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the app never called the model");
            await Task.Delay(Poll.StateInterval);
        }

        return fake.Requests.First();
    }

    /// <summary>Waits until <paramref name="requests"/> model calls exist and none of them has sent a token for a second.</summary>
    private static async Task<List<int>> WaitForPlateauAsync(FakeAzureOpenAIServer fake, int requests)
    {
        var clock = Stopwatch.StartNew();
        List<int>? last = null;
        var stableSince = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            var counts = fake.Requests.Select(r => r.TokenSentTimestamps.Count).ToList();
            if (counts.Count == requests && last is not null && counts.SequenceEqual(last))
            {
                if (stableSince.Elapsed > Plateau)
                {
                    return counts;
                }
            }
            else
            {
                stableSince.Restart();
            }

            last = counts;
            await Task.Delay(Poll.StateInterval);
        }

        throw new TimeoutException($"the upstream never stopped: {string.Join(", ", last ?? [])} tokens sent");
    }

    private static async Task<bool> IsClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true; // reset
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
