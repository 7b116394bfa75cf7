using System.Text;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Configuration;
using ChatFunctions.Shares;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Tests.Shares;

/// <summary>The create's order of checks: the body is read only once the caller and the rate limit pass, and a refusal
/// of the read is the create's answer.</summary>
public sealed class ShareServiceTests : IDisposable
{
    private readonly InMemoryShareStore _store = new();
    private readonly ShareCreationLimiter _limiter = new();
    private readonly ShareService _service;
    private int _reads;

    public ShareServiceTests() =>
        _service = new ShareService(_store, _limiter, Options.Create(new ConversationOptions()), TimeProvider.System, NullLogger<ShareService>.Instance);

    public void Dispose() => _limiter.Dispose();

    private ShareWrite Write(string json) => new(_ =>
    {
        _reads++;
        return Task.FromResult<(byte[]?, Refusal?)>((Encoding.UTF8.GetBytes(json), null));
    });

    private const string Conversation = """{"conversationId":"c1","title":"t","messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task An_anonymous_create_is_forbidden_with_the_sign_in_type_before_the_body_is_read()
    {
        var outcome = await _service.CreateAsync(Caller.Anonymous("203.0.113.7"), Write(Conversation), CancellationToken.None);

        Assert.Equal(RefusalKind.Forbidden, outcome.Rejection?.Kind);
        Assert.Equal("Authorization", outcome.Rejection!.Field);
        Assert.Equal(ShareService.SignInRequiredType, outcome.Rejection.Type);
        Assert.Equal(0, _reads);
    }

    [Fact]
    public async Task A_create_past_the_rate_limit_is_refused_with_a_wait_before_the_body_is_read()
    {
        var caller = Caller.User("tenant", "user");
        for (var i = 0; i < ShareCreationLimiter.PermitsPerWindow; i++)
        {
            Assert.Null((await _service.CreateAsync(caller, Write(Conversation), CancellationToken.None)).Rejection);
        }

        var refused = await _service.CreateAsync(caller, Write(Conversation), CancellationToken.None);

        Assert.Equal(RefusalKind.TooManyRequests, refused.Rejection?.Kind);
        Assert.Equal("shares", refused.Rejection!.Field);
        Assert.InRange(refused.Rejection.RetryAfter!.Value, TimeSpan.FromTicks(1), ShareCreationLimiter.Window);
        Assert.Equal(ShareCreationLimiter.PermitsPerWindow, _reads);
    }

    [Fact]
    public async Task A_refused_read_is_the_create_s_answer_and_nothing_is_stored()
    {
        var caller = Caller.User("tenant", "user");
        var tooLarge = new Refusal(RefusalKind.TooLarge, "body", "too large");

        var outcome = await _service.CreateAsync(caller, new ShareWrite(_ => Task.FromResult<(byte[]?, Refusal?)>((null, tooLarge))), CancellationToken.None);

        Assert.Same(tooLarge, outcome.Rejection);
        Assert.Empty((await _service.ListAsync(caller, CancellationToken.None)).Shares!);
    }
}
