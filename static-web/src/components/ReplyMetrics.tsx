import type { ReplyMetrics as Metrics } from "../state/types";

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** Time to first token and tokens/s, preferring the server's numbers (they exclude network time). */
export function ReplyMetrics({ metrics }: { metrics: Metrics | undefined }) {
  if (!metrics) return null;
  const ttft = metrics.serverTtftMs ?? metrics.clientTtftMs;
  const tps = metrics.serverTokensPerSecond ?? metrics.clientTokensPerSecond;
  if (ttft === undefined && tps === undefined) return null;
  const parts: string[] = [];
  if (ttft !== undefined) parts.push(`first token ${seconds(ttft)}`);
  if (tps !== undefined) parts.push(`${tps.toFixed(1)} tok/s`);
  if (metrics.outputTokens !== undefined) parts.push(`${metrics.outputTokens} tokens`);
  const detail = [
    metrics.serverTtftMs !== undefined && `server first token ${seconds(metrics.serverTtftMs)}`,
    metrics.clientTtftMs !== undefined && `in this browser ${seconds(metrics.clientTtftMs)}`,
    metrics.clientTokensPerSecond !== undefined && `browser ${metrics.clientTokensPerSecond.toFixed(1)} chunks/s`,
  ]
    .filter(Boolean)
    .join(", ");
  return (
    <p className="metrics" title={detail} data-ttft-ms={ttft} data-tps={tps}>
      {parts.join(" · ")}
    </p>
  );
}
