import type { ReplyMetrics as Metrics } from "../state/types";

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** Below these a "tokens per second" figure is noise (a handful of chunks in one network read). */
const MIN_TOKENS_FOR_RATE = 20;
const MIN_SPAN_MS_FOR_RATE = 500;

/**
 * The rate the user saw: tokens (the server's count, else chunks) over the time the text took to
 * arrive in this browser; undefined when the reply was too short or too quick for a rate to mean anything.
 */
export function displayedRate(metrics: Metrics): number | undefined {
  const tokens = metrics.outputTokens ?? metrics.chunks;
  const span = metrics.clientStreamMs;
  // A resumed reply's span here includes the time without a connection: the server's rate is the attempt's.
  if (span === undefined && tokens !== undefined && tokens >= MIN_TOKENS_FOR_RATE) return metrics.serverTokensPerSecond;
  if (tokens === undefined || span === undefined || tokens < MIN_TOKENS_FOR_RATE || span < MIN_SPAN_MS_FOR_RATE) return undefined;
  return tokens / (span / 1000);
}

/**
 * Time to first token as the user experienced it (Send → first text, in this browser) and the
 * rate; the server's own figures (without network and reconnects) are in the detail.
 */
export function ReplyMetrics({ metrics }: { metrics: Metrics | undefined }) {
  if (!metrics) return null;
  const ttft = metrics.clientTtftMs;
  const tps = displayedRate(metrics);
  const parts: string[] = [];
  if (ttft !== undefined) parts.push(`first token ${seconds(ttft)}`);
  if (tps !== undefined) parts.push(`${tps.toFixed(1)} tok/s`);
  if (metrics.outputTokens !== undefined) parts.push(`${metrics.outputTokens} tokens`);
  if (parts.length === 0) return null;
  const detail = [
    ttft !== undefined && `first token in this browser ${seconds(ttft)}`,
    metrics.serverTtftMs !== undefined && `on the server ${seconds(metrics.serverTtftMs)}`,
    metrics.serverTokensPerSecond !== undefined && tps !== undefined && `server ${metrics.serverTokensPerSecond.toFixed(1)} tok/s`,
  ]
    .filter(Boolean)
    .join(", ");
  return (
    <p className="metrics" title={detail || undefined} data-ttft-ms={ttft} data-server-ttft-ms={metrics.serverTtftMs} data-tps={tps}>
      {parts.join(" · ")}
      {detail && <span className="visually-hidden"> ({detail})</span>}
    </p>
  );
}
