using ChatFunctions.Functions;
using ChatFunctions.Hosting;
using ChatFunctions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace ChatFunctions.Tests.Functions;

/// <summary>
/// Under the Functions host an exception escaping the function makes the worker report the invocation as failed
/// (and skips the ASP.NET Core integration's completion of the invocation). A client that left is not a failure:
/// the function must complete normally, and only then. (A client leaving mid-stream ends the delivery loop without
/// an exception at all: StreamDeliveryTests.)
/// </summary>
public class ChatStreamFunctionAbortTests
{
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
        var (function, request) = Build(reader.Object, aborted.Token);

        await function.RunAsync(request, CancellationToken.None);

        reader.VerifyAll();
    }

    public static TheoryData<string> RealFailures => ["a bug", "a cancellation that is not the client's"];

    [Theory]
    [MemberData(nameof(RealFailures))]
    public async Task Anything_else_still_fails_the_invocation(string what)
    {
        Exception failure = what == "a bug" ? new InvalidOperationException("bug") : new OperationCanceledException("someone else's timeout");
        var reader = new Mock<IChatRequestReader>();
        reader.Setup(r => r.ReadAsync(It.IsAny<HttpRequest>(), It.IsAny<CancellationToken>())).ThrowsAsync(failure);
        var (function, request) = Build(reader.Object, CancellationToken.None);

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => function.RunAsync(request, CancellationToken.None));

        Assert.Same(failure, thrown);
    }

    private static (ChatStreamFunction Function, HttpRequest Request) Build(IChatRequestReader reader, CancellationToken aborted)
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().Build();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSingleton(reader);
        services.AddChatFunctions(configuration);
        var provider = services.BuildServiceProvider();
        var function = ActivatorUtilities.CreateInstance<ChatStreamFunction>(provider);
        var context = new DefaultHttpContext { RequestAborted = aborted, RequestServices = provider };
        context.Request.Method = "POST";
        return (function, context.Request);
    }
}
