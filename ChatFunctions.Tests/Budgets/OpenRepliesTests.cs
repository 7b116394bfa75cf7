using System.Net;
using System.Text.Json.Nodes;
using ChatFunctions.Tests.TestInfrastructure;

namespace ChatFunctions.Tests.Budgets;

/// <summary>CHAT_MAX_OPEN_REPLIES_PER_CALLER over HTTP: a reply whose client hung up still counts while it runs on.</summary>
[Trait("Category", "Http")]
public class OpenRepliesTests
{
    [Fact]
    public async Task Replies_whose_clients_hung_up_still_count_so_fire_and_forget_is_bounded_until_one_is_stopped()
    {
        // 400 tokens at 25 ms: a 10 s reply, with a 30 s grace window after its client leaves.
        await using var app = await AppServer.StartAsync(new Dictionary<string, string>
        {
            ["CHAT_MAX_OPEN_REPLIES_PER_CALLER"] = "2",
            ["DEMO_TOKEN_DELAY_MS"] = "25",
        });
        var streamIds = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            // Fire and forget: read the first frame (for its id), then hang up.
            using var response = await SseClient.SendAsync(app.Client, SseClient.Post("hi [demo:tokens=400]"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await foreach (var frame in SseClient.ReadFramesAsync(response))
            {
                streamIds.Add(frame.Id!.Split(':')[0]);
                break;
            }
        }

        using var third = await app.Client.SendAsync(SseClient.Post("hi"));

        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("application/problem+json", third.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await third.Content.ReadAsStringAsync())!;
        Assert.Contains("2 replies open", problem["errors"]!["openReplies"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(third.Headers.RetryAfter);

        // Stopping one frees its slot as soon as its producer has ended (at once here; the allowance is the machine's).
        using (var stop = await app.Client.DeleteAsync(new Uri($"/api/chat/streams/{streamIds[0]}", UriKind.Relative)))
        {
            Assert.True(stop.IsSuccessStatusCode);
        }

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        HttpStatusCode status;
        do
        {
            using var next = await app.Client.SendAsync(SseClient.Post("hi"), HttpCompletionOption.ResponseHeadersRead);
            status = next.StatusCode;
        }
        while (status == HttpStatusCode.TooManyRequests && DateTime.UtcNow < until);

        Assert.Equal(HttpStatusCode.OK, status);
    }
}
