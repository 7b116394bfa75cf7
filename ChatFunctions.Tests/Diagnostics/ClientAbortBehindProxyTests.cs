using System.Diagnostics.Metrics;
using ChatFunctions.Tests.TestInfrastructure;
using ChatFunctions.Tests.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatFunctions.Tests.Diagnostics;

/// <summary>
/// Under the Functions host the browser talks to the host, and the host forwards to the worker's HTTP server
/// (YARP, "ResponseBodyCanceled" when the browser leaves mid-body). Here a forwarding proxy stands in for the host:
/// when the client leaves, the proxy cancels its copy and drops the connection to the app, and the app must count
/// the stream as cancelled (not failed) and let no exception escape the function.
/// </summary>
[Trait("Category", "Http")]
public sealed class ClientAbortBehindProxyTests
{
    [Fact]
    public async Task A_client_that_leaves_through_a_forwarding_proxy_is_counted_as_a_cancellation_not_a_failure()
    {
        var logs = new CapturedLogs();
        // Grace 1 s: the reply outlives its reader briefly, then is stopped; a stop nobody asked for counts as a cancellation.
        await using var app = await AppServer.StartAsync(new Dictionary<string, string> { ["DEMO_TOKEN_DELAY_MS"] = "20", ["CHAT_RESUME_GRACE_SECONDS"] = "1" }, logs.Register);
        var outcomes = new List<string>();
        using var listener = ListenToStreamOutcomes(app.Services.GetRequiredService<IMeterFactory>(), outcomes);
        await using var proxy = await ForwardingProxy.StartAsync(app.BaseAddress);
        using var client = new HttpClient { BaseAddress = proxy.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        var response = await SseClient.SendAsync(client, SseClient.Post("hi [demo:tokens=2000]"));
        var chunks = 0;
        await foreach (var frame in SseClient.ReadFramesAsync(response))
        {
            if (frame.IsChunk && ++chunks == 3)
            {
                break;
            }
        }

        Assert.Equal(3, chunks);
        response.Dispose(); // the browser tab closes mid-stream
        await logs.WaitForAsync(e => e.EventId.Name == "StreamCancelled", TimeSpan.FromSeconds(15));
        await proxy.WaitForCancelledForwardAsync(TimeSpan.FromSeconds(15));

        lock (outcomes)
        {
            Assert.Equal(["cancelled"], outcomes);
        }

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    private static MeterListener ListenToStreamOutcomes(IMeterFactory appMeters, List<string> outcomes)
    {
        var listener = new MeterListener
        {
            // Only this app's instruments: other tests' apps in this process have their own meter factory.
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "chatfunctions.stream.count" && instrument.Meter.Scope == appMeters)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "chatfunctions.stream.outcome")
                {
                    lock (outcomes)
                    {
                        outcomes.Add((string)tag.Value!);
                    }
                }
            }
        });
        listener.Start();
        return listener;
    }

    /// <summary>Forwards POST /api/chat/stream to the app and copies the response body as it comes, the way the host does.</summary>
    private sealed class ForwardingProxy : IAsyncDisposable
    {
        private readonly WebApplication _proxy;
        private readonly TaskCompletionSource _cancelledForward;

        private ForwardingProxy(WebApplication proxy, Uri baseAddress, TaskCompletionSource cancelledForward)
        {
            _proxy = proxy;
            BaseAddress = baseAddress;
            _cancelledForward = cancelledForward;
        }

        public Uri BaseAddress { get; }

        public static async Task<ForwardingProxy> StartAsync(Uri app)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var proxy = builder.Build();
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var upstream = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app, Timeout = Timeout.InfiniteTimeSpan };
            proxy.Lifetime.ApplicationStopped.Register(upstream.Dispose);
            proxy.MapPost("/api/chat/stream", async (HttpContext context) =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat/stream") { Content = new StreamContent(context.Request.Body) };
                request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(context.Request.ContentType!);
                try
                {
                    using var response = await upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
                    context.Response.StatusCode = (int)response.StatusCode;
                    context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                    await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
                }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                {
                    // ResponseBodyCanceled: disposing the upstream response drops the connection to the app.
                    cancelled.TrySetResult();
                }
            });
            await proxy.StartAsync();
            var address = proxy.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ForwardingProxy(proxy, new Uri(address), cancelled);
        }

        public Task WaitForCancelledForwardAsync(TimeSpan timeout) => _cancelledForward.Task.WaitAsync(timeout);

        public async ValueTask DisposeAsync()
        {
            await _proxy.StopAsync();
            await _proxy.DisposeAsync();
        }
    }
}
