using ChatFunctions.Access;
using ChatFunctions.Configuration;
using Microsoft.Extensions.Options;

namespace ChatFunctions.Budgets;

/// <summary>
/// Replies each caller has open on this instance (CHAT_MAX_OPEN_REPLIES_PER_CALLER). A reply is open from its start
/// until its producer ends, which includes the grace window a disconnected reply runs on: so a caller who sends
/// requests and hangs up at once (fire-and-forget) is held to the same number as one who reads every reply.
/// </summary>
public sealed class OpenReplies(IOptions<TokenBudgetOptions> options)
{
    private readonly int _limit = options.Value.MaxOpenRepliesPerCaller;
    private readonly Dictionary<CallerKey, int> _open = [];
    private readonly Lock _gate = new();

    public int Limit => _limit;

    /// <summary>Takes a slot for <paramref name="caller"/>; false when all of theirs are taken.</summary>
    public bool TryOpen(CallerKey caller)
    {
        if (_limit == 0)
        {
            return true;
        }

        lock (_gate)
        {
            var open = _open.GetValueOrDefault(caller);
            if (open >= _limit)
            {
                return false;
            }

            _open[caller] = open + 1;
            return true;
        }
    }

    /// <summary>Gives back a slot <see cref="TryOpen"/> took.</summary>
    public void Close(CallerKey caller)
    {
        if (_limit == 0)
        {
            return;
        }

        lock (_gate)
        {
            if (_open.TryGetValue(caller, out var open))
            {
                if (open <= 1)
                {
                    _open.Remove(caller);
                }
                else
                {
                    _open[caller] = open - 1;
                }
            }
        }
    }

    /// <summary>Replies <paramref name="caller"/> has open here.</summary>
    public int CountOf(CallerKey caller)
    {
        lock (_gate)
        {
            return _open.GetValueOrDefault(caller);
        }
    }
}
