using System.Collections;
using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime;
using System.Text;
using System.Text.Json;

/// <summary>
/// A .NET startup hook (DOTNET_STARTUP_HOOKS=ChatFunctions.Bench.dll) that `--memory` loads into the app's process,
/// so the app itself has no diagnostics endpoint: it only exists while the bench runs the app.
/// </summary>
#pragma warning disable CA1050 // The runtime looks the hook up by this exact name, outside any namespace.
public static class StartupHook
#pragma warning restore CA1050
{
    public static void Initialize() => ChatFunctions.Bench.MemoryProbe.Start();
}

namespace ChatFunctions.Bench
{
    /// <summary>
    /// Inside the app's process: listens on the Unix socket named by <see cref="SocketVariable"/>; each connection
    /// gets one JSON line: the heap after a full compacting GC, what the GC has committed, RSS, and the bytes held by
    /// the app's own per-stream holders (stream log segments, the in-memory store's copies), read by reflection from
    /// the host's services (captured from the hosting DiagnosticListener's HostBuilt event, as EF's tools do).
    /// </summary>
    public static class MemoryProbe
    {
        public const string SocketVariable = "CHAT_BENCH_MEMORY_PROBE";

        /// <summary>The request for the holders alone, without the full GCs: cheap enough to poll while waiting for the
        /// app to settle. Any other request line asks for the full measurement.</summary>
        public const string HoldersOnly = "holders";

        private static IServiceProvider? _services;

        public static void Start()
        {
            var path = Environment.GetEnvironmentVariable(SocketVariable);
            if (string.IsNullOrEmpty(path))
            {
                return;
            }

            DiagnosticListener.AllListeners.Subscribe(new Observer<DiagnosticListener>(listener =>
            {
                if (listener.Name == "Microsoft.Extensions.Hosting")
                {
                    listener.Subscribe(new Observer<KeyValuePair<string, object?>>(e =>
                    {
                        if (e.Key == "HostBuilt" && e.Value is not null)
                        {
                            _services = e.Value.GetType().GetProperty("Services")?.GetValue(e.Value) as IServiceProvider;
                        }
                    }));
                }
            }));

            File.Delete(path);
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(4);
            var thread = new Thread(() =>
            {
                while (true)
                {
                    using var connection = listener.Accept();
                    using var request = new StreamReader(new NetworkStream(connection, ownsSocket: false), Encoding.UTF8);
                    var reply = Encoding.UTF8.GetBytes((request.ReadLine() == HoldersOnly ? HoldersJson() : Measure()) + "\n");
                    connection.Send(reply);
                    connection.Shutdown(SocketShutdown.Both);
                }
            })
            { IsBackground = true, Name = "bench memory probe" };
            thread.Start();
        }

        private static string Measure()
        {
            var rssBefore = Rss();
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteNumber("rssBeforeGc", rssBefore);
                json.WriteNumber("rssAfterGc", Rss());
                json.WriteNumber("heapSize", info.HeapSizeBytes);
                json.WriteNumber("fragmented", info.FragmentedBytes);
                json.WriteNumber("committed", info.TotalCommittedBytes);
                json.WriteNumber("liveBytes", GC.GetTotalMemory(false));
                string[] generations = ["gen0", "gen1", "gen2", "loh", "poh"];
                for (var g = 0; g < info.GenerationInfo.Length && g < generations.Length; g++)
                {
                    json.WriteNumber(generations[g], info.GenerationInfo[g].SizeAfterBytes);
                }

                json.WriteNumber("threads", Process.GetCurrentProcess().Threads.Count);
                json.WriteNumber("threadPoolThreads", ThreadPool.ThreadCount);
                json.WriteNumber("timers", Timer.ActiveCount);
                json.WriteString("gc", (GCSettings.IsServerGC ? "server" : "workstation") + ", " + GCSettings.LatencyMode);
                Holders(json);
                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        private static string HoldersJson()
        {
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                Holders(json);
                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        /// <summary>Our own holders, walked by field name (bench-only knowledge of the app's internals).</summary>
        private static void Holders(Utf8JsonWriter json)
        {
            if (_services is null)
            {
                json.WriteString("holders", "host not captured");
                return;
            }

            try
            {
                var app = Assembly.Load("ChatFunctions");
                var liveType = app.GetType("ChatFunctions.Resumption.LiveReplies", throwOnError: true)!;
                var live = _services.GetService(liveType);
                long replies = 0, segments = 0, segmentBytes = 0, segmentUsed = 0, unstored = 0;
                if (live is not null && Field(live, "_streams") is IEnumerable streams)
                {
                    foreach (var entry in streams)
                    {
                        var reply = entry.GetType().GetProperty("Value")!.GetValue(entry)!;
                        var log = reply.GetType().GetProperty("Log")!.GetValue(reply)!;
                        replies++;
                        unstored += Unstored(log);
                        foreach (var segment in (IEnumerable)Field(log, "_segments")!)
                        {
                            segments++;
                            segmentBytes += ((byte[])segment.GetType().GetProperty("Buffer")!.GetValue(segment)!).Length;
                            segmentUsed += (int)segment.GetType().GetProperty("Used")!.GetValue(segment)!;
                        }
                    }
                }

                json.WriteNumber("liveReplies", replies);
                json.WriteNumber("logSegments", segments);
                json.WriteNumber("logSegmentBytes", segmentBytes);
                json.WriteNumber("logUsedBytes", segmentUsed);

                var storeType = app.GetType("ChatFunctions.Resumption.IStreamLogStore", throwOnError: true)!;
                var store = _services.GetService(storeType);
                json.WriteString("store", store?.GetType().Name);
                // A store only this instance reads takes each reply once, complete: an open reply has nothing pending there.
                var shared = store is not null && (bool)storeType.GetProperty("IsShared")!.GetValue(store)!;
                json.WriteNumber("logUnstoredBytes", shared ? unstored : 0);
                long storeLogs = 0, storeBytes = 0, storeUsed = 0;
                if (store is not null && Field(store, "_logs") is IEnumerable logs)
                {
                    foreach (var entry in logs)
                    {
                        var log = entry.GetType().GetProperty("Value")!.GetValue(entry)!;
                        storeLogs++;
                        storeBytes += ((byte[])Field(log, "_buffer")!).Length;
                        storeUsed += (int)log.GetType().GetProperty("Length")!.GetValue(log)!;
                    }
                }

                json.WriteNumber("storeLogs", storeLogs);
                json.WriteNumber("storeBufferBytes", storeBytes);
                json.WriteNumber("storeUsedBytes", storeUsed);
            }
            catch (Exception ex) when (ex is TypeLoadException or NullReferenceException or InvalidCastException or TargetException or FileNotFoundException)
            {
                json.WriteString("holdersError", ex.GetType().Name + ": " + ex.Message);
            }
        }

        /// <summary>What a live log published that the store does not hold yet: the bytes past the end of the last
        /// append the persister reported (<c>StreamLog.Release</c>), released or not.</summary>
        private static long Unstored(object log)
        {
            var published = (long)log.GetType().GetProperty("Published")!.GetValue(log)!;
            lock (Field(log, "_sync")!)
            {
                var stored = (long)Field(log, "_start")!;
                foreach (var entry in (IEnumerable)Field(log, "_stored")!)
                {
                    stored = Math.Max(stored, (long)entry.GetType().GetField("Item1")!.GetValue(entry)!);
                }

                return published - stored;
            }
        }

        private static object? Field(object target, string name)
        {
            for (var type = target.GetType(); type is not null; type = type.BaseType)
            {
                if (type.GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public) is { } field)
                {
                    return field.GetValue(target);
                }
            }

            return null;
        }

        private static long Rss()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0;
        }

        /// <summary>Asks the probe in the app's process (bench side).</summary>
        public static async Task<JsonElement> AskAsync(string path, CancellationToken cancellationToken, bool holdersOnly = false)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.UTF8.GetBytes((holdersOnly ? HoldersOnly : "measure") + "\n"), cancellationToken);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var line = await reader.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("the memory probe closed without an answer");
            return JsonDocument.Parse(line).RootElement.Clone();
        }

        private sealed class Observer<T>(Action<T> onNext) : IObserver<T>
        {
            public void OnCompleted()
            {
            }

            public void OnError(Exception error)
            {
            }

            public void OnNext(T value) => onNext(value);
        }
    }
}
