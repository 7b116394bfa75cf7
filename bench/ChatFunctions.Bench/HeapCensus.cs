using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Runtime;

namespace ChatFunctions.Bench;

/// <summary>Live objects of the app by type, and byte arrays by the type of the object that holds them.</summary>
public sealed record Census(IReadOnlyDictionary<string, (long Bytes, long Count)> ByType, IReadOnlyDictionary<string, (long Bytes, long Count)> ByteArraysByHolder);

/// <summary>
/// A heap census of another .NET process: a dump with its heap (written by the runtime through the diagnostics
/// port, as dotnet-dump does) read with ClrMD. Every object is visited once; a byte array is credited to the first
/// object found referencing it (a pooled array's holder is the pool; one held only from a stack shows as "(roots)").
/// </summary>
public static class HeapCensus
{
    public static Census Take(int processId, string dumpPath)
    {
        new DiagnosticsClient(processId).WriteDump(DumpType.WithHeap, dumpPath, logDumpGeneration: false);
        try
        {
            using var target = DataTarget.LoadDump(dumpPath);
            // The app runs on the shared runtime this process runs on: its DAC is beside it (the dump names no version).
            var dac = Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "libmscordaccore.so");
            using var runtime = File.Exists(dac) ? target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true) : target.ClrVersions[0].CreateRuntime();
            var heap = runtime.Heap;
            var byType = new Dictionary<string, (long, long)>();
            var holderOf = new Dictionary<ulong, string>();
            var byteArrays = new List<(ulong Address, long Size)>();
            foreach (var obj in heap.EnumerateObjects())
            {
                if (!obj.IsValid || obj.Type is null || obj.IsFree)
                {
                    continue;
                }

                var name = obj.Type.Name ?? "?";
                var size = (long)obj.Size;
                byType[name] = byType.TryGetValue(name, out var seen) ? (seen.Item1 + size, seen.Item2 + 1) : (size, 1);
                if (name == "System.Byte[]")
                {
                    byteArrays.Add((obj.Address, size));
                }

                if (!obj.Type.ContainsPointers)
                {
                    continue;
                }

                foreach (var child in obj.EnumerateReferences(carefully: false, considerDependantHandles: false))
                {
                    if (child.Type?.Name == "System.Byte[]")
                    {
                        holderOf.TryAdd(child.Address, name);
                    }
                }
            }

            var byHolder = new Dictionary<string, (long, long)>();
            foreach (var (address, size) in byteArrays)
            {
                var holder = holderOf.GetValueOrDefault(address, "(roots)");
                byHolder[holder] = byHolder.TryGetValue(holder, out var seen) ? (seen.Item1 + size, seen.Item2 + 1) : (size, 1);
            }

            return new Census(byType, byHolder);
        }
        finally
        {
            File.Delete(dumpPath);
        }
    }
}
