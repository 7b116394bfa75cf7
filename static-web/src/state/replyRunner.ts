import { readChatStream, StreamFailure, type ChatApi, type Failure, type StreamCursor, type StreamMeta, type StreamResult } from "../api/chatClient";
import type { ChatRequestBody } from "../api/protocol";

/** Automatic reconnects per reply (restarts, and separately resumes) before giving up and showing Retry. */
export const MAX_RECONNECTS = 3;
/** A server asking to wait longer than this gets a manual Retry with a countdown instead. */
const MAX_AUTO_WAIT_MS = 30_000;

export function reconnectDelay(failure: Failure, attemptsSoFar: number, random = Math.random): number | undefined {
  if (!failure.retryable || attemptsSoFar >= MAX_RECONNECTS) return undefined;
  // An incomplete reply is retried by the user only: a restart would replace the text already shown.
  if (failure.kind === "incomplete") return undefined;
  if (failure.retryAfterMs !== undefined) {
    return failure.retryAfterMs <= MAX_AUTO_WAIT_MS ? failure.retryAfterMs : undefined;
  }
  // Exponential backoff with jitter: 1 s, 2 s, 4 s (±20 %), so many clients don't retry in step.
  return Math.round(1000 * 2 ** attemptsSoFar * (0.8 + 0.4 * random()));
}

export interface RunEvents {
  onMeta(meta: StreamMeta): void;
  /** The model accepted the request and thinks before its first text. */
  onThinking?(): void;
  onChunk(text: string): void;
  /** The reply is re-asked from the start (new stream); its old text stays until new text arrives. */
  onRestarting(attempt: number, retryAt: number, reason: Failure): void;
  /** The connection dropped mid-reply; the same stream will be resumed where it stopped. */
  onResuming(attempt: number, retryAt: number, reason: Failure): void;
  /** A resume request was accepted: the reply continues. */
  onResumed(): void;
}

export type RunOutcome =
  | { kind: "done"; result: StreamResult }
  | { kind: "stopped" }
  | { kind: "failed"; failure: Failure };

export interface RunOptions {
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/**
 * Runs one reply to its end. A dropped connection resumes the same stream (GET with Last-Event-ID,
 * so no text is lost or repeated and the model is not asked twice); only when the server no longer
 * knows the stream (404/410), or the connection dropped before the stream had an id, is the turn
 * re-asked. Server error frames restart with backoff as before. Aborting `signal` is Stop: the
 * server is told (DELETE) so the model stops too.
 */
export async function runReply(
  api: ChatApi,
  body: ChatRequestBody,
  signal: AbortSignal,
  events: RunEvents,
  { sleep = abortableSleep, random = Math.random, now = Date.now }: RunOptions = {},
): Promise<RunOutcome> {
  let cursor: StreamCursor = { streamId: "", lastEventId: "" };
  let restarts = 0;
  let resumes = 0;
  let resuming = false;

  const onAbort = () => {
    if (cursor.streamId) api.stop(cursor.streamId).catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      if (!resuming) cursor = { streamId: "", lastEventId: "" };
      const current = cursor;
      const wasResuming = resuming;
      let progressed = false;
      try {
        const result = await readChatStream(
          async () => {
            const response = await (wasResuming ? api.resume(current, signal) : api.start(body, signal));
            if (wasResuming && response.ok) events.onResumed();
            return response;
          },
          signal,
          {
            onMeta: events.onMeta,
            onThinking: () => events.onThinking?.(),
            onChunk: (text) => {
              progressed = true;
              events.onChunk(text);
            },
          },
          current,
        );
        return { kind: "done", result };
      } catch (error) {
        if (signal.aborted) return { kind: "stopped" };
        const failure: Failure =
          error instanceof StreamFailure
            ? error.failure
            : { kind: "network", message: error instanceof Error ? error.message : String(error), retryable: true };

        // Text arrived since the last resume: the connection works, so the resume budget starts over.
        if (progressed) resumes = 0;
        const gone = wasResuming && (failure.status === 404 || failure.status === 410);
        const resumable = !gone && ((failure.dropped === true && current.streamId !== "") || (wasResuming && failure.retryable));
        let delay: number | undefined;
        if (resumable) {
          delay = reconnectDelay({ ...failure, kind: "network" }, resumes, random);
          if (delay === undefined) return { kind: "failed", failure };
          resumes++;
          resuming = true;
          events.onResuming(resumes, now() + delay, failure);
        } else {
          // The server no longer has the stream: re-ask at once (nothing to wait for); otherwise back off.
          delay = gone ? 0 : reconnectDelay(failure, restarts, random);
          if (delay === undefined) return { kind: "failed", failure };
          restarts++;
          resuming = false;
          const reason = gone ? { ...failure, message: "The interrupted reply could not be resumed, so it is asked again." } : failure;
          events.onRestarting(restarts, now() + delay, reason);
        }
        try {
          await sleep(delay, signal);
        } catch {
          return { kind: "stopped" };
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
