using System.Globalization;

namespace ChatFunctions.Bench;

/// <summary>CPU time and resident memory of a process, from /proc (Linux).</summary>
public static class ProcStats
{
    /// <summary>Clock ticks per second for /proc/[pid]/stat (USER_HZ; 100 on Linux x86_64 and arm64).</summary>
    private const double TicksPerSecond = 100;

    public static bool Available => File.Exists("/proc/self/stat");

    /// <summary>User + system CPU time of the process so far.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name "(...)": state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>Resident set size in bytes.</summary>
    public static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
