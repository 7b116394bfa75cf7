import { createSseParser } from "../sse/parser";
import { decodeFrame, type ChatRequestBody, type FinishReason, type ServerMetrics, type Usage } from "./protocol";

/** Why a reply did not complete; drives the notice under the reply and the retry policy. */
export interface Failure {
  kind: "network" | "rate_limited" | "server" | "http";
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  status?: number;
  code?: string;
}

export class StreamFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = "StreamFailure";
  }
}

export interface StreamCallbacks {
  onMeta?: (meta: { requestId: string; provider: string; model: string }) => void;
  onChunk: (text: string) => void;
}

export interface StreamResult {
  finishReason: FinishReason;
  usage?: Usage;
  metrics?: ServerMetrics;
}

const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);

/**
 * POSTs one chat turn and streams the reply. Resolves on the `done` frame; rejects with a
 * StreamFailure (HTTP error, server error frame, dropped connection) or with the AbortError of
 * `signal` when the user stops. Reading stops at `done`, so nothing after it is consumed.
 */
export async function streamChat(
  url: string,
  body: ChatRequestBody,
  signal: AbortSignal,
  callbacks: StreamCallbacks,
  fetchImpl: typeof fetch = fetch,
): Promise<StreamResult> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (signal.aborted) throw error;
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
          callbacks.onMeta?.(frame);
          break;
        case "chunk":
          callbacks.onChunk(frame.text);
          break;
        case "error":
          serverError = {
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
        throw new StreamFailure({ kind: "network", message: "The connection was lost.", retryable: true });
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
    throw new StreamFailure({ kind: "network", message: "The connection closed before the reply finished.", retryable: true });
  }
  if (result.finishReason === "error") {
    throw new StreamFailure({ kind: "server", message: "The server ended the reply with an error.", retryable: true });
  }
  return result;
}

/** RFC 9457 problem details → the text a user should read (`detail`, then `title`). */
async function failureFromHttp(response: Response): Promise<Failure> {
  const status = response.status;
  let message = `The server answered ${status} ${response.statusText}`.trim() + ".";
  try {
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("json")) {
      const problem = (await response.json()) as { title?: unknown; detail?: unknown };
      const text = typeof problem.detail === "string" && problem.detail ? problem.detail : problem.title;
      if (typeof text === "string" && text) message = text;
    }
  } catch {
    // Keep the status line.
  }
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  return {
    kind: status === 429 ? "rate_limited" : "http",
    message,
    retryable: RETRYABLE_STATUS.has(status),
    retryAfterMs,
    status,
  };
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return parseInt(value, 10) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
