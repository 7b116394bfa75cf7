using System.Diagnostics;
using System.Text.Json;
using ChatFunctions.Tests.TestInfrastructure;
using FakeAzureOpenAI;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Tests.Wire;

/// <summary>Prompts and replies are the user's data: no log entry, at any level, may carry them.</summary>
[Trait("Category", "Wire")]
public sealed class LogPrivacyTests
{
    private const string MessageMarker = "zqx-secret-message-7f3a";
    private const string HistoryMarker = "zqx-secret-history-91c2";
    private const string AnswerMarker = "zqx-secret-answer-4d6e";
    private static readonly string[] ReplyTokens = ["zqx-reply-alpha", " zqx-reply-beta", " zqx-reply-gamma"];

    [Fact]
    public async Task No_prompt_history_or_reply_text_reaches_any_log_entry_at_any_level()
    {
        await using var host = await WireHost.StartAsync();
        host.Fake.Enqueue(FakeScript.Reply(ReplyTokens));
        using var cts = WireHost.Timeout();
        var history = new[]
        {
            new { role = "user", content = $"earlier {HistoryMarker}" },
            new { role = "assistant", content = $"earlier {AnswerMarker}" },
        };

        var frames = await host.StreamAsync($"please answer {MessageMarker}", history, cts.Token);

        SseClient.AssertWellFormed(frames);
        FrameAssert.Thinking(frames[1]);
        FrameAssert.Chunks(frames[2..^1], ReplyTokens);
        FrameAssert.Done(frames[^1], "stop");
        // The stream reached the fake with the markers, so there was something to leak.
        var sent = JsonSerializer.Serialize(Assert.Single(host.Fake.Requests).Body);
        Assert.Contains(MessageMarker, sent, StringComparison.Ordinal);
        Assert.Contains(HistoryMarker, sent, StringComparison.Ordinal);

        var finished = await host.Logs.WaitForAsync(e => e.EventId.Name == "StreamFinished", TimeSpan.FromSeconds(10));
        Assert.Contains(finished.State, kv => kv.Key == "Chunks" && Equals(kv.Value, ReplyTokens.Length));
        Assert.Contains(host.Logs.Entries, e => e.Level < LogLevel.Information);
        AssertNoUserText(host.Logs, [MessageMarker, HistoryMarker, AnswerMarker, .. ReplyTokens.Select(t => t.Trim())]);
    }

    [Fact]
    public async Task An_upstream_error_body_that_echoes_the_prompt_reaches_neither_the_client_nor_the_logs()
    {
        await using var host = await WireHost.StartAsync();
        // Validation errors can quote the offending input back; the app must treat the body as user data.
        var echo = JsonSerializer.Serialize(new
        {
            error = new { code = "invalid_request", message = $"Invalid content in messages[1]: '{MessageMarker}'", param = "messages" },
        });
        host.Fake.Enqueue(new FakeScript { Status = 400, ErrorBody = echo });
        using var cts = WireHost.Timeout();
        // Spans are exported too (Application Insights): the model-call span must not carry the body either.
        var spanTexts = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("ChatFunctions", StringComparison.Ordinal),
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                spanTexts.Enqueue($"{activity.Source.Name} {activity.DisplayName} status: {activity.StatusDescription}");
                foreach (var (key, value) in activity.TagObjects)
                {
                    spanTexts.Enqueue($"{activity.DisplayName} tag {key}: {value}");
                }

                foreach (var e in activity.Events)
                {
                    spanTexts.Enqueue($"{activity.DisplayName} event {e.Name}: " + string.Join(", ", e.Tags.Select(t => $"{t.Key}={t.Value}")));
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var frames = await host.StreamAsync($"please answer {MessageMarker}", null, cts.Token);

        FrameAssert.FailedBeforeAnyChunk(frames, "upstream_error", retryable: false);
        Assert.DoesNotContain(frames, f => f.Data.ToJsonString().Contains(MessageMarker, StringComparison.Ordinal));
        Assert.Single(host.Fake.Requests);

        var failed = await host.Logs.WaitForAsync(e => e.EventId.Name == "StreamFailed", TimeSpan.FromSeconds(10));
        Assert.Contains(failed.State, kv => kv.Key == "Status" && Equals(kv.Value, 400));
        Assert.Contains(spanTexts, t => t.Contains("status: ", StringComparison.Ordinal));
        var leaks = LogLeaks(host.Logs, [MessageMarker])
            .Concat(spanTexts.Where(t => t.Contains(MessageMarker, StringComparison.Ordinal)).Select(t => $"span leaks '{MessageMarker}': {t}"))
            .ToList();
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }

    private static void AssertNoUserText(CapturedLogs logs, IReadOnlyList<string> secrets)
    {
        var leaks = LogLeaks(logs, secrets);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }

    private static List<string> LogLeaks(CapturedLogs logs, IReadOnlyList<string> secrets)
    {
        var entries = logs.Entries.ToList();
        Assert.NotEmpty(entries);
        return (
            from entry in entries
            from text in entry.AllText()
            from secret in secrets
            where text.Contains(secret, StringComparison.Ordinal)
            select $"log entry {entry} leaks '{secret}' in: {text}").Distinct().ToList();
    }
}
