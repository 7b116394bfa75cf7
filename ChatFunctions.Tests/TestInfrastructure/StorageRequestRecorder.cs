using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ChatFunctions.Tests.TestInfrastructure;

/// <summary>A policy for a storage client's pipeline that records each request's method as it is sent (per attempt,
/// as billing counts), so a test can count what an operation cost.</summary>
public sealed class StorageRequestRecorder : HttpPipelineSynchronousPolicy
{
    private readonly ConcurrentQueue<string> _requests = new();

    /// <summary>The methods recorded since the last call, in order.</summary>
    public List<string> Take()
    {
        var taken = new List<string>();
        while (_requests.TryDequeue(out var request))
        {
            taken.Add(request);
        }

        return taken;
    }

    public override void OnSendingRequest(HttpMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _requests.Enqueue(message.Request.Method.ToString());
    }
}
