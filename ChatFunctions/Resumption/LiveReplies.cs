using System.Collections.Concurrent;
using ChatFunctions.Access;
using ChatFunctions.Chat;
using ChatFunctions.Streaming;
using Microsoft.Extensions.Hosting;

namespace ChatFunctions.Resumption;

/// <summary>
/// The registry of the replies this instance produces, from their start until they may leave memory. Starting one
/// hands it to the <see cref="ReplyProducer"/> (which runs it beside its <see cref="ReplyPersister"/>), and its last
/// reader leaving to the <see cref="GraceWatcher"/>; shutting down stops them all.
/// </summary>
public sealed class LiveReplies : IDisposable
{
    private readonly ConcurrentDictionary<string, LiveReply> _streams = new(StringComparer.Ordinal);
    private readonly ReplyProducer _producer;
    private readonly GraceWatcher _watcher;
    private readonly ReplyPersister _persister;
    private readonly CancellationTokenRegistration _shutdown;

    public LiveReplies(ReplyProducer producer, GraceWatcher watcher, ReplyPersister persister, IHostApplicationLifetime? lifetime = null)
    {
        _producer = producer;
        _watcher = watcher;
        _persister = persister;
        _shutdown = lifetime?.ApplicationStopping.Register(StopAll) ?? default;
    }

    /// <summary>Streams in memory here (producing, or finished and kept for the grace window because the store lacks them).</summary>
    public int Count => _streams.Count;

    /// <summary>Starts producing a reply for <paramref name="caller"/>, who, when signed in, is the only one who may
    /// resume or stop it; <paramref name="onEnded"/> hears how it ended, however it ended, before its done frame goes
    /// out (<see cref="ReplyProducer.RunAsync"/>). The request attaches its own reader to the returned reply's log.</summary>
    public LiveReply Start(string requestId, ChatRequest request, Caller caller, Func<StreamSummary?, ValueTask>? onEnded = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var stream = new LiveReply(StreamId.New(), requestId, ReplyOwner.KeyOf(caller), releasable: _persister.IsShared);
        _streams[stream.StreamId] = stream;
        stream.Log.ReadersChanged = count =>
        {
            if (count == 0)
            {
                _watcher.OnLastReaderLeft(stream);
            }
        };
        _ = RunAsync(stream, request, onEnded);
        return stream;
    }

    public LiveReply? Find(string streamId) => _streams.TryGetValue(streamId, out var stream) ? stream : null;

    private async Task RunAsync(LiveReply stream, ChatRequest request, Func<StreamSummary?, ValueTask>? onEnded)
    {
        try
        {
            await _producer.RunAsync(stream, request, onEnded);
        }
        finally
        {
            _streams.TryRemove(stream.StreamId, out _);
            stream.Dispose();
        }
    }

    private void StopAll()
    {
        foreach (var stream in _streams.Values)
        {
            stream.Stop(StreamStopReason.Shutdown);
        }
    }

    public void Dispose()
    {
        _shutdown.Dispose();
        StopAll();
    }
}
