import { createSseParser } from "../sse/parser";
import { SignInRequiredError } from "./auth";
import { chatStreamUrl, streamUrl } from "./config";
import { decodeFrame, type ChatRequestBody, type FinishReason, type ServerMetrics, type Usage } from "./protocol";

/** Why a reply did not complete; drives the notice under the reply and the retry policy. */
export interface Failure {
  kind: "network" | "rate_limited" | "server" | "http" | "incomplete" | "budget" | "auth";
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  status?: number;
  code?: string;
  /** The connection broke while the reply was being read: the same stream can be resumed. */
  dropped?: boolean;
  /** Budget spent: when it resets (epoch ms). */
  resetAt?: number;
}

export class StreamFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = "StreamFailure";
  }
}

export interface StreamMeta {
  requestId: string;
  streamId: string;
  provider: string;
  model: string;
}

export interface StreamCallbacks {
  /** `eventId`: the frame's SSE id (`<streamId>:<seq>`), "" when the server sent none. */
  onMeta?: (meta: StreamMeta, eventId: string) => void;
  /** The model accepted the request and is thinking (no text yet). */
  onThinking?: () => void;
  onChunk: (text: string, eventId: string) => void;
  /** A delta of the model's reasoning summary, with the SSE id of its frame. */
  onReasoning?: (text: string, eventId: string) => void;
}

export interface StreamResult {
  finishReason: FinishReason;
  usage?: Usage;
  metrics?: ServerMetrics;
}

/** Where a stream got to: enough to resume it (`Last-Event-ID`) or stop it. Updated as frames arrive. */
export interface StreamCursor {
  streamId: string;
  /** The SSE id of the last frame handled, `<streamId>:<seq>`. */
  lastEventId: string;
}

/** The three calls the page makes to the API. fetchImpl carries the Authorization header when signed in. */
export interface ChatApi {
  /** POST /api/chat/stream: a new reply. */
  start(body: ChatRequestBody, signal: AbortSignal): Promise<Response>;
  /** GET /api/chat/streams/{streamId} with Last-Event-ID: the rest of the same reply. */
  resume(cursor: StreamCursor, signal: AbortSignal): Promise<Response>;
  /** DELETE /api/chat/streams/{streamId}: the user pressed Stop; the server stops the model. */
  stop(streamId: string): Promise<void>;
}

/** A stop sent to an instance that does not run the reply waits for the producer to confirm it; 503/504 say it was
 * not confirmed (yet). Asked again this many times in all, so Stop means stop without the user pressing it twice. */
export const STOP_ATTEMPTS = 3;
const STOP_RETRY_STATUS = new Set([502, 503, 504]);
const STOP_RETRY_MAX_WAIT_MS = 5_000;

const defaultWait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createChatApi(apiBaseUrl: string, fetchImpl: typeof fetch = fetch, wait: (ms: number) => Promise<void> = defaultWait): ChatApi {
  return {
    start: (body, signal) =>
      fetchImpl(chatStreamUrl(apiBaseUrl), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal,
        cache: "no-store",
      }),
    resume: (cursor, signal) =>
      fetchImpl(streamUrl(apiBaseUrl, cursor.streamId), {
        method: "GET",
        headers: cursor.lastEventId
          ? { Accept: "text/event-stream", "Last-Event-ID": cursor.lastEventId }
          : { Accept: "text/event-stream" },
        signal,
        cache: "no-store",
      }),
    stop: async (streamId) => {
      for (let attempt = 1; ; attempt++) {
        let waitMs = 1_000;
        try {
          // keepalive: the DELETE still goes out when Stop is the last thing before leaving the page.
          const response = await fetchImpl(streamUrl(apiBaseUrl, streamId), { method: "DELETE", keepalive: true });
          if (!STOP_RETRY_STATUS.has(response.status)) {
            await response.body?.cancel().catch(() => {});
            return; // 204 (stopped, confirmed), or an answer a retry cannot change (404, 401, 400)
          }
          const problem = (await response.json().catch(() => ({}))) as Record<string, unknown>;
          waitMs = retryAfterOf(problem, response.headers) ?? waitMs;
        } catch (error) {
          if (attempt >= STOP_ATTEMPTS) throw error;
        }
        if (attempt >= STOP_ATTEMPTS) throw new Error(`The stop was not confirmed after ${STOP_ATTEMPTS} attempts.`);
        await wait(Math.min(waitMs, STOP_RETRY_MAX_WAIT_MS));
      }
    },
  };
}

const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);

/**
 * Opens one response (a POST or a resume) and streams the reply. Resolves on the `done` frame;
 * rejects with a StreamFailure (HTTP error, server error frame, dropped connection: `dropped`) or
 * with the AbortError of `signal` when the user stops. Reading stops at `done`.
 */
export async function readChatStream(
  open: () => Promise<Response>,
  signal: AbortSignal,
  callbacks: StreamCallbacks,
  cursor: StreamCursor = { streamId: "", lastEventId: "" },
): Promise<StreamResult> {
  let response: Response;
  try {
    response = await open();
  } catch (error) {
    if (signal.aborted) throw error;
    if (error instanceof SignInRequiredError) throw new StreamFailure(signInFailure(error.message));
    throw new StreamFailure({ kind: "network", message: "Could not reach the server.", retryable: true });
  }

  if (!response.ok) throw new StreamFailure(await failureFromHttp(response));
  if (!response.body) {
    throw new StreamFailure({ kind: "server", message: "The server sent no stream.", retryable: true });
  }

  let result: StreamResult | undefined;
  let serverError: Failure | undefined;
  const parser = createSseParser({
    onEvent: (event) => {
      if (result) return;
      const frame = decodeFrame(event.data);
      switch (frame.kind) {
        case "meta":
          if (frame.streamId) cursor.streamId = frame.streamId;
          callbacks.onMeta?.(frame, event.lastEventId);
          break;
        case "thinking":
          callbacks.onThinking?.();
          break;
        case "chunk":
          callbacks.onChunk(frame.text, event.lastEventId);
          break;
        case "reasoning":
          callbacks.onReasoning?.(frame.text, event.lastEventId);
          break;
        case "error":
          serverError =
            frame.error.code === "incomplete"
              ? incompleteFailure(frame.error.message)
              : {
                  kind: frame.error.code === "rate_limited" ? "rate_limited" : "server",
                  message: frame.error.message,
                  retryable: frame.error.retryable,
                  retryAfterMs: frame.error.retryAfterMs,
                  code: frame.error.code,
                };
          break;
        case "done":
          result = { finishReason: frame.finishReason, usage: frame.usage, metrics: frame.metrics };
          break;
        case "unknown":
          // Forward compatibility: a newer server may add frame types; ignore them.
          break;
      }
      // Only after the frame was handled: a resume asks for the frames after this one.
      if (event.lastEventId) cursor.lastEventId = event.lastEventId;
    },
  });

  const reader = response.body.getReader();
  try {
    while (!result) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal.aborted) throw error;
        throw new StreamFailure({ kind: "network", message: "The connection was lost.", retryable: true, dropped: true });
      }
      if (chunk.done) {
        parser.end();
        break;
      }
      parser.feedBytes(chunk.value);
    }
  } finally {
    if (result) reader.cancel().catch(() => {});
    reader.releaseLock();
  }

  if (serverError) throw new StreamFailure(serverError);
  if (!result) {
    throw new StreamFailure({
      kind: "network",
      message: "The connection closed before the reply finished.",
      retryable: true,
      dropped: true,
    });
  }
  if (result.finishReason === "error") throw new StreamFailure(incompleteFailure());
  return result;
}

/** One POSTed turn, without resuming (kept for callers that need only that). */
export function streamChat(
  url: string,
  body: ChatRequestBody,
  signal: AbortSignal,
  callbacks: StreamCallbacks,
  fetchImpl: typeof fetch = fetch,
): Promise<StreamResult> {
  const api = createChatApi(url.replace(/\/api\/chat\/stream$/, ""), fetchImpl);
  return readChatStream(() => api.start(body, signal), signal, callbacks);
}

function incompleteFailure(message = "The reply was cut off before it finished."): Failure {
  // Retryable by the user (Retry), never automatically: a restart would replace the text already shown.
  return { kind: "incomplete", message, retryable: true, code: "incomplete" };
}

function signInFailure(message = "Sign in again to continue."): Failure {
  return { kind: "auth", message, retryable: false };
}

/** RFC 9457 problem details → the text a user should read (`detail`, then `title`). */
export async function failureFromHttp(response: Response, now = Date.now()): Promise<Failure> {
  const status = response.status;
  let message = `The server answered ${status} ${response.statusText}`.trim() + ".";
  let problem: Record<string, unknown> = {};
  try {
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("json")) {
      const json: unknown = await response.json();
      if (typeof json === "object" && json !== null) problem = json as Record<string, unknown>;
      const text = typeof problem.detail === "string" && problem.detail ? problem.detail : problem.title;
      if (typeof text === "string" && text) message = text;
    }
  } catch {
    // Keep the status line.
  }
  const retryAfterMs = retryAfterOf(problem, response.headers, now);

  const errors = typeof problem.errors === "object" && problem.errors !== null ? (problem.errors as Record<string, unknown>) : {};
  if (status === 429 && "budget" in errors) {
    // Daily token budget: waiting seconds will not help, so no Retry; say when it resets.
    const resetAt = typeof problem.resetAt === "string" ? Date.parse(problem.resetAt) : NaN;
    const at = Number.isNaN(resetAt) ? (retryAfterMs !== undefined ? now + retryAfterMs : undefined) : resetAt;
    const when = at === undefined ? "" : `, resets at ${formatResetTime(at, now)}`;
    return { kind: "budget", message: `Daily token budget spent${when}.`, retryable: false, status, resetAt: at };
  }
  if (status === 401) return { ...signInFailure(), status };

  return {
    kind: status === 429 ? "rate_limited" : "http",
    message,
    retryable: RETRYABLE_STATUS.has(status),
    retryAfterMs,
    status,
  };
}

/** Local time of the reset; the date too when it is not today. */
export function formatResetTime(at: number, now = Date.now()): string {
  const date = new Date(at);
  const time = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return date.toDateString() === new Date(now).toDateString()
    ? time
    : `${date.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" })} ${time}`;
}

/**
 * The server's wait before a retry: the problem body's `retryAfterSeconds`, which a page on another origin can read,
 * else the Retry-After header, which it cannot (not CORS-safelisted, and platform CORS exposes no headers) but a
 * same-origin page can.
 */
export function retryAfterOf(problem: Record<string, unknown>, headers: Headers, now = Date.now()): number | undefined {
  const seconds = problem.retryAfterSeconds;
  if (typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds) * 1000;
  return parseRetryAfter(headers.get("retry-after"), now);
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return parseInt(value, 10) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
