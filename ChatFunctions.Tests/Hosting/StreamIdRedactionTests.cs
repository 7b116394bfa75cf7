using System.Diagnostics;
using ChatFunctions.Hosting;

namespace ChatFunctions.Tests.Hosting;

/// <summary>A stream id is a bearer capability: request spans record the route's placeholder, never the id.</summary>
public class StreamIdRedactionTests
{
    [Fact]
    public void Request_spans_for_a_stream_keep_the_route_but_not_the_id()
    {
        const string Id = "AbCdEfGhIjKlMnOpQrStUv";
        using var activity = new Activity("Microsoft.AspNetCore.Hosting.HttpRequestIn");
        activity.DisplayName = $"GET /api/chat/streams/{Id}";
        activity.SetTag("url.path", $"/api/chat/streams/{Id}");
        activity.SetTag("url.full", $"https://app.example/api/chat/streams/{Id}?lastEventId={Id}:4");
        activity.SetTag("url.query", $"lastEventId={Id}:4");

        new TelemetryExtensions.QueryRedactionProcessor().OnEnd(activity);

        Assert.Equal("/api/chat/streams/{streamId}", activity.GetTagItem("url.path"));
        Assert.Equal("https://app.example/api/chat/streams/{streamId}?Redacted", activity.GetTagItem("url.full"));
        Assert.Equal("Redacted", activity.GetTagItem("url.query"));
        Assert.Equal("GET /api/chat/streams/{streamId}", activity.DisplayName);
        Assert.DoesNotContain(activity.TagObjects, tag => tag.Value?.ToString()?.Contains(Id, StringComparison.Ordinal) == true);
    }

    [Theory]
    [InlineData("/api/chat/stream")]
    [InlineData("/api/health")]
    [InlineData("/api/chat/streams/")]
    public void Other_paths_are_left_as_they_are(string path)
    {
        Assert.Same(path, TelemetryExtensions.StreamPathRedaction.Redact(path));
    }
}
