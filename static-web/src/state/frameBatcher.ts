/**
 * Collects streamed chunks and hands them over at most once per animation frame: at 100+ chunks
 * a second, rendering each one would do far more work than the screen can show.
 */
export interface FrameBatcher {
  push(text: string): void;
  /** Hands over what is pending now (used before the stream ends, so no text is left behind). */
  flush(): void;
  cancel(): void;
}

export function createFrameBatcher(
  onFlush: (text: string, chunks: number) => void,
  schedule: (cb: () => void) => number = (cb) => requestAnimationFrame(cb),
  unschedule: (handle: number) => void = (handle) => cancelAnimationFrame(handle),
): FrameBatcher {
  let pending: string[] = [];
  let handle: number | null = null;

  function flush(): void {
    if (handle !== null) {
      unschedule(handle);
      handle = null;
    }
    if (pending.length === 0) return;
    const chunks = pending.length;
    const text = pending.join("");
    pending = [];
    onFlush(text, chunks);
  }

  return {
    push(text) {
      pending.push(text);
      if (handle === null) {
        handle = schedule(() => {
          handle = null;
          flush();
        });
      }
    },
    flush,
    cancel() {
      if (handle !== null) unschedule(handle);
      handle = null;
      pending = [];
    },
  };
}
