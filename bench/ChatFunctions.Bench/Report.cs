using System.Globalization;
using System.Text;

namespace ChatFunctions.Bench;

public static class Report
{
    private static string F(double v, string format = "F2") => double.IsNaN(v) ? "-" : v.ToString(format, CultureInfo.InvariantCulture);

    public static string SweepTable(SweepResult sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var sb = new StringBuilder();
        sb.AppendLine("| streams | mode | token latency p50 (ms) | p99 (ms) | max (ms) | TTFB p50 / p99 (ms) | TTFT p50 / p99 (ms) | tokens received / expected | lost | reordered | id gaps | failed | app CPU (µs/token = ms per 1,000 tokens) | fake model + clients CPU (µs/token) | app RSS Δ (KiB/stream) | wall (s) |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in sweep.Levels)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Streams} | {r.Mode} | {F(r.AddedLatencyMs.P50)} | {F(r.AddedLatencyMs.P99)} | {F(r.AddedLatencyMs.Max, "F1")} | ")
              .Append(CultureInfo.InvariantCulture, $"{F(r.TimeToFirstByteMs.P50, "F1")} / {F(r.TimeToFirstByteMs.P99, "F1")} | {F(r.TimeToFirstTokenMs.P50, "F1")} / {F(r.TimeToFirstTokenMs.P99, "F1")} | ")
              .Append(CultureInfo.InvariantCulture, $"{r.TokensReceived} / {r.TokensExpected} | {r.LostFrames} | {r.ReorderedStreams} | {(r.Mode == "relay" ? r.IdGapStreams.ToString(CultureInfo.InvariantCulture) : "n/a")} | {r.FailedStreams} | ")
              .Append(CultureInfo.InvariantCulture, $"{(r.CpuMicrosecondsPerToken is { } c ? F(c, "F1") : "-")} | {(r.PeersCpuMicrosecondsPerToken is { } p ? F(p, "F1") : "-")} | {(r.RssKiBPerStream is { } m ? F(m, "F1") : "-")} | {F(r.WallSeconds, "F1")} |")
              .AppendLine();
        }

        return sb.ToString();
    }

    public static string AllocationTable(IReadOnlyList<AllocationRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var sb = new StringBuilder();
        sb.AppendLine("| path | bytes allocated per token | CPU per token (µs, one thread, in process) |");
        sb.AppendLine("|---|---:|---:|");
        foreach (var r in rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Path} | {F(r.BytesPerToken, "F0")} | {F(r.CpuMicrosecondsPerToken, "F2")} |");
        }

        return sb.ToString();
    }

    public static string RemoteTable(RemoteResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return $"""
            | streams | completed | TTFB p50 / p99 (ms) | TTFT p50 / p99 (ms) | inter-chunk gap p50 / p99 / max (ms) | chunks/s per stream | chunks/s total | id gaps | wall (s) |
            |---:|---:|---:|---:|---:|---:|---:|---:|---:|
            | {r.Streams} | {r.Completed} | {F(r.TimeToFirstByteMs.P50, "F1")} / {F(r.TimeToFirstByteMs.P99, "F1")} | {F(r.TimeToFirstTokenMs.P50, "F1")} / {F(r.TimeToFirstTokenMs.P99, "F1")} | {F(r.InterChunkGapMs.P50, "F1")} / {F(r.InterChunkGapMs.P99, "F1")} / {F(r.InterChunkGapMs.Max, "F1")} | {F(r.ChunksPerSecondPerStream, "F1")} | {F(r.ChunksPerSecondTotal, "F0")} | {r.IdGapStreams} | {F(r.WallSeconds, "F1")} |
            """ + (r.FirstError is null ? "" : $"\n\nFirst error: {r.FirstError}\n");
    }

    /// <summary>Token latency p50/p99 against concurrency, relay and direct, log-log, as a self-contained SVG.</summary>
    public static string LatencyChart(SweepResult sweep, double targetMs = 50)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        const int W = 760, H = 440, L = 70, R = 200, T = 40, B = 60;
        var levels = sweep.Levels.Select(l => l.Streams).Distinct().Order().ToList();
        var values = sweep.Levels.SelectMany(l => new[] { l.AddedLatencyMs.P50, l.AddedLatencyMs.P99 }).Where(v => !double.IsNaN(v) && v > 0).ToList();
        var yMin = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(0.01, values.DefaultIfEmpty(0.1).Min()))));
        var yMax = Math.Pow(10, Math.Ceiling(Math.Log10(Math.Max(targetMs * 2, values.DefaultIfEmpty(100).Max()))));
        double xMin = Math.Max(1, levels.DefaultIfEmpty(1).Min()), xMax = Math.Max(xMin * 10, levels.DefaultIfEmpty(10).Max());
        double X(double v) => L + (Math.Log10(v) - Math.Log10(xMin)) / (Math.Log10(xMax) - Math.Log10(xMin)) * (W - L - R);
        double Y(double v) => T + (1 - (Math.Log10(Math.Max(v, yMin)) - Math.Log10(yMin)) / (Math.Log10(yMax) - Math.Log10(yMin))) * (H - T - B);
        string S(double v) => v.ToString("F1", CultureInfo.InvariantCulture);

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="system-ui, sans-serif" font-size="12">""");
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<rect width="{W}" height="{H}" fill="white"/>""");
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{W / 2 - 80}" y="22" font-size="15" font-weight="600" text-anchor="middle">Token latency (upstream send → client receive) vs concurrent streams</text>""");
        for (var d = yMin; d <= yMax * 1.001; d *= 10)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{L}" x2="{W - R}" y1="{S(Y(d))}" y2="{S(Y(d))}" stroke="#ddd"/><text x="{L - 6}" y="{S(Y(d) + 4)}" text-anchor="end">{d.ToString("G", CultureInfo.InvariantCulture)}</text>""");
        }

        foreach (var n in levels)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{S(X(n))}" x2="{S(X(n))}" y1="{T}" y2="{H - B}" stroke="#eee"/><text x="{S(X(n))}" y="{H - B + 16}" text-anchor="middle">{n}</text>""");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{L}" x2="{W - R}" y1="{H - B}" y2="{H - B}" stroke="#333"/><line x1="{L}" x2="{L}" y1="{T}" y2="{H - B}" stroke="#333"/>""");
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{(L + W - R) / 2}" y="{H - 18}" text-anchor="middle">concurrent streams (log scale)</text>""");
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<text transform="translate(18 {(T + H - B) / 2}) rotate(-90)" text-anchor="middle">milliseconds (log scale)</text>""");
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{L}" x2="{W - R}" y1="{S(Y(targetMs))}" y2="{S(Y(targetMs))}" stroke="#c00" stroke-dasharray="6 4"/><text x="{W - R + 6}" y="{S(Y(targetMs) + 4)}" fill="#c00">{targetMs} ms target</text>""");
        sb.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{S(X(100) - 6)}" x2="{S(X(100) + 6)}" y1="{S(Y(5))}" y2="{S(Y(5))}" stroke="#c00" stroke-width="3"/><text x="{S(X(100) + 8)}" y="{S(Y(5) - 4)}" fill="#c00">5 ms target at 100</text>""");

        var series = new (string Mode, Func<LevelResult, double> Value, string Color, string Dash, string Label)[]
        {
            ("relay", r => r.AddedLatencyMs.P99, "#1f5fbf", "", "relay p99"),
            ("relay", r => r.AddedLatencyMs.P50, "#1f5fbf", "4 3", "relay p50"),
            ("direct", r => r.AddedLatencyMs.P99, "#e08a00", "", "direct p99"),
            ("direct", r => r.AddedLatencyMs.P50, "#e08a00", "4 3", "direct p50"),
        };
        var legendY = T + 10;
        foreach (var (mode, value, color, dash, label) in series)
        {
            var points = sweep.Levels.Where(l => l.Mode == mode && !double.IsNaN(value(l))).OrderBy(l => l.Streams).Select(l => (X(l.Streams), Y(value(l)))).ToList();
            if (points.Count == 0)
            {
                continue;
            }

            sb.AppendLine(CultureInfo.InvariantCulture, $"""<polyline fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{string.Join(' ', points.Select(p => $"{S(p.Item1)},{S(p.Item2)}"))}"/>""");
            foreach (var (x, y) in points)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"""<circle cx="{S(x)}" cy="{S(y)}" r="3" fill="{color}"/>""");
            }

            sb.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{W - R + 10}" x2="{W - R + 40}" y1="{legendY}" y2="{legendY}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{W - R + 46}" y="{legendY + 4}">{label}</text>""");
            legendY += 20;
        }

        sb.AppendLine("</svg>");
        return sb.ToString();
    }
}
