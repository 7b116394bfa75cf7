using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Diagnostics;
using ChatFunctions.Functions;
using ChatFunctions.Http;
using ChatFunctions.Models;
using ChatFunctions.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;

namespace ChatFunctions.Tests.Functions;

/// <summary>
/// Under the Functions host an exception escaping the function makes the worker report the invocation as failed
/// (and skips the ASP.NET Core integration's completion of the invocation). A client that left is not a failure:
/// the function must complete normally, and only then.
/// </summary>
public class ChatStreamFunctionAbortTests
{
    public static TheoryData<string> ClientLeftWays => ["aborted token", "pipe refused (ClientGoneException) before the abort token fired"];

    [Theory]
    [MemberData(nameof(ClientLeftWays))]
    public async Task A_client_that_left_mid_stream_completes_the_function_normally(string how)
    {
        using var aborted = new CancellationTokenSource();
        var streamer = new Mock<IChatStreamer>();
        streamer.Setup(s => s.StreamAsync(It.IsAny<string>(), It.IsAny<ChatRequest>(), It.IsAny<SseChatWriter>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                await Task.Yield();
                if (how == "aborted token")
                {
                    await aborted.CancelAsync();
                    throw new OperationCanceledException(aborted.Token);
                }

                throw new ClientGoneException();
            });
        var (function, request) = Build(streamer.Object, aborted.Token);

        await function.RunAsync(request, CancellationToken.None);

        streamer.VerifyAll();
    }

    [Fact]
    public async Task A_client_that_left_while_the_body_was_read_completes_the_function_normally()
    {
        using var aborted = new CancellationTokenSource();
        var reader = new Mock<IChatRequestReader>();
        reader.Setup(r => r.ReadAsync(It.IsAny<HttpRequest>(), It.IsAny<CancellationToken>())).Returns(async () =>
        {
            await aborted.CancelAsync();
            throw new OperationCanceledException(aborted.Token);
        });
        var (function, request) = Build(Mock.Of<IChatStreamer>(), aborted.Token, reader.Object);

        await function.RunAsync(request, CancellationToken.None);

        reader.VerifyAll();
    }

    public static TheoryData<string> RealFailures => ["a bug", "a cancellation that is not the client's"];

    [Theory]
    [MemberData(nameof(RealFailures))]
    public async Task Anything_else_still_fails_the_invocation(string what)
    {
        var streamer = new Mock<IChatStreamer>();
        Exception failure = what == "a bug" ? new InvalidOperationException("bug") : new OperationCanceledException("someone else's timeout");
        streamer.Setup(s => s.StreamAsync(It.IsAny<string>(), It.IsAny<ChatRequest>(), It.IsAny<SseChatWriter>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(failure);
        var (function, request) = Build(streamer.Object, CancellationToken.None);

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => function.RunAsync(request, CancellationToken.None));

        Assert.Same(failure, thrown);
    }

    private static (ChatStreamFunction Function, HttpRequest Request) Build(IChatStreamer streamer, CancellationToken aborted, IChatRequestReader? reader = null)
    {
        var options = Options.Create(new ChatServiceOptions());
        var provider = new Mock<IChatModelProvider>();
        provider.SetupGet(p => p.IsAvailable).Returns(true);
        if (reader is null)
        {
            var stub = new Mock<IChatRequestReader>();
            stub.Setup(r => r.ReadAsync(It.IsAny<HttpRequest>(), It.IsAny<CancellationToken>()))
                .ReturnsAsync(new ChatRequest("hi", []));
            reader = stub.Object;
        }

        var function = new ChatStreamFunction(
            reader,
            streamer,
            provider.Object,
            options,
            TimeProvider.System,
            new ClientRateLimiter(options),
            new ProblemResponder(Mock.Of<IChatStreamObserver>(), NullLogger<ProblemResponder>.Instance),
            new AnonymousAuthenticator(),
            new UnlimitedTokenBudget());
        var context = new DefaultHttpContext { RequestAborted = aborted };
        context.Request.Method = "POST";
        return (function, context.Request);
    }
}
