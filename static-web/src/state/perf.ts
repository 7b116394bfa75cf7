import { markdownStats } from "../markdown/incremental";

/**
 * Opt-in render-cost recording (page URL with `?perf=1`), read by the e2e render-cost test:
 * for each frame flush, how many chunks it carried, how long the synchronous render + layout took,
 * and how many characters the markdown lexer processed.
 */
export interface FlushRecord {
  chunks: number;
  ms: number;
  lexedChars: number;
}

interface PerfLog {
  flushes: FlushRecord[];
  reset(): void;
}

declare global {
  interface Window {
    __chatPerf?: PerfLog;
  }
}

const enabled = typeof window !== "undefined" && new URLSearchParams(window.location.search).has("perf");

if (enabled) {
  const log: PerfLog = {
    flushes: [],
    reset() {
      log.flushes = [];
    },
  };
  window.__chatPerf = log;
}

export function measureFlush(chunks: number, render: () => void): void {
  if (!enabled) {
    render();
    return;
  }
  const lexedBefore = markdownStats.lexedChars;
  const start = performance.now();
  render();
  window.__chatPerf!.flushes.push({
    chunks,
    ms: performance.now() - start,
    lexedChars: markdownStats.lexedChars - lexedBefore,
  });
}
