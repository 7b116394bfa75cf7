import { readChatStream, StreamFailure, type ChatApi, type Failure, type StreamCursor, type StreamMeta, type StreamResult } from "../api/chatClient";
import type { ChatRequestBody } from "../api/protocol";

/** Automatic re-asks of a turn (after a server error, or a drop before the stream had an id) before giving up. */
export const MAX_RECONNECTS = 3;
/**
 * Resumes in a row after dropped connections before giving up. With the backoff below (1, 2, 4, 8, 8 s)
 * the last one comes about 23 s after the drop: inside the server's grace window (30 s by default),
 * long enough for a restarting backend to answer again.
 */
export const MAX_RESUMES = 5;
const MAX_RESUME_DELAY_MS = 8_000;
/** A server asking to wait longer than this gets a manual Retry with a countdown instead. */
const MAX_AUTO_WAIT_MS = 30_000;

const jitter = (random: () => number) => 0.8 + 0.4 * random();

/** Wait before re-asking the turn; undefined when a retry cannot help or the budget is spent. */
export function reconnectDelay(failure: Failure, attemptsSoFar: number, random = Math.random): number | undefined {
  if (!failure.retryable || attemptsSoFar >= MAX_RECONNECTS) return undefined;
  // An incomplete reply is retried by the user only: a restart would replace the text already shown.
  if (failure.kind === "incomplete") return undefined;
  if (failure.retryAfterMs !== undefined) {
    return failure.retryAfterMs <= MAX_AUTO_WAIT_MS ? failure.retryAfterMs : undefined;
  }
  // Exponential backoff with jitter: 1 s, 2 s, 4 s (±20 %), so many clients don't retry in step.
  return Math.round(1000 * 2 ** attemptsSoFar * jitter(random));
}

/** Wait before resuming a dropped stream; undefined when the resume budget is spent. */
export function resumeDelay(failure: Failure, attemptsSoFar: number, random = Math.random): number | undefined {
  if (attemptsSoFar >= MAX_RESUMES) return undefined;
  if (failure.retryAfterMs !== undefined) return failure.retryAfterMs <= MAX_AUTO_WAIT_MS ? failure.retryAfterMs : undefined;
  return Math.round(Math.min(MAX_RESUME_DELAY_MS, 1000 * 2 ** attemptsSoFar) * jitter(random));
}

export interface RunEvents {
  /** `eventId`: the SSE id of the meta frame (`<streamId>:1`). */
  onMeta(meta: StreamMeta, eventId: string): void;
  /** The model accepted the request and thinks before its first text. */
  onThinking?(): void;
  /** `eventId`: the SSE id of the frame that carried `text`. */
  onChunk(text: string, eventId: string): void;
  /** A delta of the model's reasoning summary; `eventId`: the SSE id of its frame. */
  onReasoning?(text: string, eventId: string): void;
  /** The reply is re-asked from the start (new stream). `network`: because of a drop, not a server error. */
  onRestarting(attempt: number, retryAt: number, reason: Failure, network: boolean): void;
  /** The connection dropped mid-reply; the same stream will be resumed where it stopped. */
  onResuming(attempt: number, retryAt: number, reason: Failure): void;
  /** A resume request was accepted: the reply continues. */
  onResumed(): void;
  /** The browser went offline (true) and the run waits; back online (false) it carries on. */
  onOffline?(offline: boolean): void;
}

export type RunOutcome =
  | { kind: "done"; result: StreamResult }
  | { kind: "stopped" }
  | { kind: "failed"; failure: Failure }
  /** A followed reply (another tab owns it) could not be followed further; its owner decides what happens. */
  | { kind: "lost"; failure: Failure };

/** Whether the browser thinks it is online, and a wait for it to come back. */
export interface Connectivity {
  online(): boolean;
  waitOnline(signal: AbortSignal): Promise<void>;
}

export const browserConnectivity: Connectivity = {
  online: () => typeof navigator === "undefined" || navigator.onLine !== false,
  waitOnline: (signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const done = () => {
        window.removeEventListener("online", done);
        signal.removeEventListener("abort", abort);
        resolve();
      };
      const abort = () => {
        window.removeEventListener("online", done);
        reject(signal.reason);
      };
      window.addEventListener("online", done);
      signal.addEventListener("abort", abort, { once: true });
    }),
};

export interface RunOptions {
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  connectivity?: Connectivity;
  /** Start by resuming this stream (after a reload, or in a second tab) instead of asking the turn. */
  resumeFrom?: StreamCursor;
  /** Another tab owns the reply: follow it, but never re-ask the turn (the owner does that). */
  follow?: boolean;
  /**
   * Whether a stream the server no longer has (404/410) is asked again by itself. A reply picked up
   * after a reload may be hours old: asking again then is the user's choice (Retry), not the page's.
   */
  askAgainIfGone?: boolean;
}

/**
 * Runs one reply to its end. A dropped connection resumes the same stream (GET with Last-Event-ID,
 * so no text is lost or repeated and the model is not asked twice); only when the server no longer
 * knows the stream (404/410), the connection dropped before the stream had an id, or the server
 * reported a retryable error, is the turn re-asked, within MAX_RECONNECTS. While the browser is
 * offline nothing is tried and no budget is spent: the run waits for `online`. Aborting `signal` is
 * Stop: the server is told (DELETE) so the model stops too.
 */
export async function runReply(
  api: ChatApi,
  body: ChatRequestBody,
  signal: AbortSignal,
  events: RunEvents,
  {
    sleep = abortableSleep,
    random = Math.random,
    now = Date.now,
    connectivity = browserConnectivity,
    resumeFrom,
    follow = false,
    askAgainIfGone = true,
  }: RunOptions = {},
): Promise<RunOutcome> {
  let cursor: StreamCursor = resumeFrom ? { ...resumeFrom } : { streamId: "", lastEventId: "" };
  let restarts = 0;
  let resumes = 0;
  let resuming = resumeFrom !== undefined;

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
            onChunk: (text, eventId) => {
              progressed = true;
              events.onChunk(text, eventId);
            },
            onReasoning: (text, eventId) => {
              progressed = true;
              events.onReasoning?.(text, eventId);
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
        const hasStream = current.streamId !== "" && !gone;

        if (failure.kind === "network" && !connectivity.online()) {
          // Offline: no attempt can succeed, so none is spent; carry on as soon as the browser is back.
          events.onOffline?.(true);
          try {
            await connectivity.waitOnline(signal);
          } catch {
            return { kind: "stopped" };
          }
          events.onOffline?.(false);
          if (hasStream) {
            resuming = true;
            events.onResuming(resumes, now(), failure);
          } else {
            if (follow) return { kind: "lost", failure };
            resuming = false;
            events.onRestarting(restarts, now(), failure, true);
          }
          continue;
        }

        // Only the network's own failures (a drop, or an HTTP answer to the resume) are resumed;
        // a server error frame ended that stream, so resuming it would only replay the error.
        const resumable = hasStream && (failure.dropped === true || (wasResuming && failure.retryable && failure.code === undefined));
        let delay: number | undefined;
        if (resumable) {
          delay = resumeDelay(failure, resumes, random);
          if (delay === undefined) return follow ? { kind: "lost", failure } : { kind: "failed", failure };
          resumes++;
          resuming = true;
          events.onResuming(resumes, now() + delay, failure);
        } else {
          if (follow) return { kind: "lost", failure };
          if (gone && !askAgainIfGone) {
            return { kind: "failed", failure: { ...failure, kind: "server", retryable: true, message: "The server no longer has this reply, so it cannot be resumed." } };
          }
          // The server no longer has the stream: re-ask at once (nothing to wait for); otherwise back off.
          delay = gone ? 0 : reconnectDelay(failure, restarts, random);
          if (delay === undefined) return { kind: "failed", failure };
          restarts++;
          resuming = false;
          const reason = gone
            ? { ...failure, kind: "server" as const, message: "The server no longer had this reply, so the question is asked again." }
            : failure;
          events.onRestarting(restarts, now() + delay, reason, failure.kind === "network");
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
