using ChatFunctions.Access;
using ChatFunctions.Budgets;
using ChatFunctions.Chat;
using ChatFunctions.Models;
using ChatFunctions.Resumption;
using ChatFunctions.Streaming;

namespace ChatFunctions.Replies;

/// <summary>
/// The reply use case: a start passes the client's rate limit, then its request is read, a model must be configured,
/// and the caller gets an open-reply slot and a reservation of the reply's worst case (<see cref="SpendGate"/>, which
/// also settles it when the reply ends); only then is the model called. Resume and stop reach a reply wherever it is
/// produced, for its owner only (<see cref="StreamResumer"/>).
/// </summary>
public sealed class ReplyService(
    ClientRateLimiter rateLimiter,
    IChatModelProvider provider,
    SpendGate spendGate,
    LiveReplies replies,
    StreamResumer resumer) : IReplyService
{
    public async Task<ReplyResult> StartAsync(ReplyStart start, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (rateLimiter.Admit(start.ClientAddress) is { } limited)
        {
            return ReplyResult.Reject(limited);
        }

        var read = await start.ReadRequest(cancellationToken);
        if (read.Rejection is { } rejection)
        {
            return ReplyResult.Reject(rejection);
        }

        if (!provider.IsAvailable)
        {
            return ReplyResult.Reject(new Refusal(RefusalKind.Unavailable, "model",
                "No chat model is configured. Set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_CHAT_DEPLOYMENT, or OPENAI_BASE_URL and OPENAI_MODEL.")
            {
                RetryAfter = TimeSpan.FromSeconds(30),
            });
        }

        // An open-reply slot and the reply's worst case reserved against the caller's budget, before the model is
        // called; the reply settles both when it ends.
        var request = read.Request!;
        var admission = await spendGate.AdmitAsync(start.Caller.Key, request, cancellationToken);
        if (admission.Rejection is { } refused)
        {
            return ReplyResult.Reject(refused);
        }

        var spend = admission.Spend!;
        LiveReply reply;
        try
        {
            reply = replies.Start(start.RequestId, request, start.Caller, summary => spendGate.SettleAsync(spend, request, summary));
        }
        catch
        {
            // Nothing will produce the reply: give its slot back (its reservation stays charged, spend unknown).
            await spendGate.SettleAsync(spend, request, null);
            throw;
        }

        return new ReplyResult(new LiveLogSource(reply.Log, 0), null);
    }

    public async Task<ReplyResult> ResumeAsync(string streamId, int sequence, Caller caller, CancellationToken cancellationToken)
    {
        var result = await resumer.OpenAsync(streamId, sequence, caller, cancellationToken);
        return new ReplyResult(result.Source, result.Rejection);
    }

    public Task<Refusal?> StopAsync(string streamId, Caller caller, CancellationToken cancellationToken) =>
        resumer.StopAsync(streamId, caller, cancellationToken);
}
