/**
 * Types for the wire contract in docs/streaming-protocol.md, and a tolerant decoder that turns
 * one SSE `data:` payload into a typed frame (unknown shapes are reported, not thrown).
 */

export type Role = "user" | "assistant";

export interface HistoryItem {
  role: Role;
  content: string;
}

export interface ChatRequestBody {
  message: string;
  history: HistoryItem[];
}

export type FinishReason = "stop" | "length" | "content_filter" | "error" | "cancelled";

export type ServerErrorCode =
  | "rate_limited"
  | "upstream_unavailable"
  | "upstream_timeout"
  | "upstream_error"
  | "internal_error"
  /** The reply was cut off before it finished: shown as incomplete, with Retry. */
  | "incomplete";

export interface ServerMetrics {
  /** Until the model accepted the request. */
  timeToFirstByteMs?: number;
  /** From that acceptance to the first token: the model thinking. */
  thinkingMs?: number;
  timeToFirstTokenMs?: number;
  tokensPerSecond?: number;
  durationMs?: number;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  /** Part of outputTokens: what the model spent thinking. */
  reasoningTokens?: number;
}

export interface ServerError {
  code: ServerErrorCode | string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}

export type Frame =
  | { kind: "meta"; requestId: string; streamId: string; provider: string; model: string }
  | { kind: "chunk"; text: string }
  /** A delta of the model's reasoning summary (CHAT_API=responses): not part of the reply. */
  | { kind: "reasoning"; text: string }
  /** The model accepted the request and has sent no text yet: it is thinking. */
  | { kind: "thinking" }
  | { kind: "error"; error: ServerError }
  | { kind: "done"; finishReason: FinishReason; usage?: Usage; metrics?: ServerMetrics }
  | { kind: "unknown"; raw: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export function decodeFrame(data: string): Frame {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { kind: "unknown", raw: data };
  }
  if (!isObject(json)) return { kind: "unknown", raw: data };

  if (typeof json.chunk === "string") return { kind: "chunk", text: json.chunk };

  if (typeof json.reasoning === "string") return { kind: "reasoning", text: json.reasoning };

  if (isObject(json.thinking)) return { kind: "thinking" };

  if (isObject(json.meta)) {
    const m = json.meta;
    return {
      kind: "meta",
      requestId: String(m.requestId ?? ""),
      // Identifies the stream for resuming (GET /api/chat/streams/{streamId}) and Stop (DELETE).
      streamId: typeof m.streamId === "string" ? m.streamId : "",
      provider: String(m.provider ?? ""),
      model: String(m.model ?? ""),
    };
  }

  if (isObject(json.error)) {
    const e = json.error;
    return {
      kind: "error",
      error: {
        code: String(e.code ?? "internal_error"),
        message: String(e.message ?? "The server reported an error."),
        retryable: e.retryable === true,
        retryAfterMs: num(e.retryAfterMs),
      },
    };
  }

  if (json.done === true) {
    const usage = isObject(json.usage)
      ? {
          inputTokens: num(json.usage.inputTokens),
          outputTokens: num(json.usage.outputTokens),
          totalTokens: num(json.usage.totalTokens),
          reasoningTokens: num(json.usage.reasoningTokens),
        }
      : undefined;
    const metrics = isObject(json.metrics)
      ? {
          timeToFirstByteMs: num(json.metrics.timeToFirstByteMs),
          thinkingMs: num(json.metrics.thinkingMs),
          timeToFirstTokenMs: num(json.metrics.timeToFirstTokenMs),
          tokensPerSecond: num(json.metrics.tokensPerSecond),
          durationMs: num(json.metrics.durationMs),
        }
      : undefined;
    const reason = typeof json.finishReason === "string" ? json.finishReason : "stop";
    return { kind: "done", finishReason: reason as FinishReason, usage, metrics };
  }

  return { kind: "unknown", raw: data };
}
