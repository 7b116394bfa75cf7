import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { flushSync } from "react-dom";
import { StreamFailure, streamChat, type Failure } from "../api/chatClient";
import { chatStreamUrl } from "../api/config";
import { buildHistory } from "../api/history";
import { createFrameBatcher } from "./frameBatcher";
import { measureFlush } from "./perf";
import { loadConversations, saveConversations } from "./persistence";
import { chatReducer, initialState } from "./reducer";
import type { ChatState, Message, ReplyMetrics } from "./types";

/** Automatic reconnects per reply before giving up and showing Retry. */
export const MAX_RECONNECTS = 3;
/** A server asking to wait longer than this gets a manual Retry with a countdown instead. */
const MAX_AUTO_WAIT_MS = 30_000;
/** While streaming, save at most this often; every end of a reply saves at once. */
const SAVE_INTERVAL_MS = 1_000;

export function reconnectDelay(failure: Failure, attemptsSoFar: number, random = Math.random): number | undefined {
  if (!failure.retryable || attemptsSoFar >= MAX_RECONNECTS) return undefined;
  if (failure.retryAfterMs !== undefined) {
    return failure.retryAfterMs <= MAX_AUTO_WAIT_MS ? failure.retryAfterMs : undefined;
  }
  // Exponential backoff with jitter: 1 s, 2 s, 4 s (±20 %), so many clients don't retry in step.
  return Math.round(1000 * 2 ** attemptsSoFar * (0.8 + 0.4 * random()));
}

const newId = () =>
  typeof crypto !== "undefined" && "randomUUID" in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

interface ActiveRun {
  messageId: string;
  controller: AbortController;
}

export interface ChatApi {
  state: ChatState;
  announcement: string;
  send(text: string): boolean;
  stop(): void;
  /** Regenerate (after a finished reply) and Retry (after a failed or stopped one) both re-ask the last turn. */
  restart(messageId: string): void;
  newChat(): void;
  selectChat(id: string): void;
  deleteChat(id: string): void;
}

export function useChat(apiBaseUrl: string): ChatApi {
  const [state, dispatch] = useReducer(chatReducer, initialState, (init) => ({ ...init, ...loadConversations() }));
  const [announcement, setAnnouncement] = useState("");
  const stateRef = useRef(state);
  stateRef.current = state;
  const runRef = useRef<ActiveRun | null>(null);

  // Persist conversations: immediately when idle, throttled while a reply streams.
  const lastSaveRef = useRef(0);
  useEffect(() => {
    const save = () => {
      lastSaveRef.current = Date.now();
      saveConversations({ conversations: stateRef.current.conversations, activeId: stateRef.current.activeId });
    };
    if (!state.streaming) {
      save();
      return;
    }
    const wait = Math.max(0, SAVE_INTERVAL_MS - (Date.now() - lastSaveRef.current));
    const timer = setTimeout(save, wait);
    return () => clearTimeout(timer);
  }, [state.conversations, state.activeId, state.streaming]);

  // Leaving the page aborts the request, so the server stops generating (and billing) for nobody.
  useEffect(() => () => runRef.current?.controller.abort(), []);

  const runReply = useCallback(
    async (messageId: string, message: string, history: ReturnType<typeof buildHistory>) => {
      const run: ActiveRun = { messageId, controller: new AbortController() };
      runRef.current = run;
      const { signal } = run.controller;
      const url = chatStreamUrl(apiBaseUrl);

      let chunks = 0;
      let attemptStart = 0;
      let firstChunkAt: number | undefined;
      let lastChunkAt = 0;
      const clientMetrics = (): ReplyMetrics | undefined => {
        if (firstChunkAt === undefined) return undefined;
        const seconds = (lastChunkAt - firstChunkAt) / 1000;
        return {
          clientTtftMs: firstChunkAt - attemptStart,
          clientTokensPerSecond: seconds > 0 ? (chunks - 1) / seconds : undefined,
        };
      };

      // Each frame flush renders synchronously (flushSync) so the new text is on screen in that frame.
      const batcher = createFrameBatcher((text, count) =>
        measureFlush(count, () => flushSync(() => dispatch({ type: "appendText", messageId, text }))),
      );

      setAnnouncement("Assistant is replying.");
      for (let attempt = 0; ; ) {
        chunks = 0;
        firstChunkAt = undefined;
        attemptStart = performance.now();
        try {
          const result = await streamChat(url, { message, history }, signal, {
            onMeta: (meta) => dispatch({ type: "meta", messageId, model: meta.model }),
            onChunk: (text) => {
              const now = performance.now();
              firstChunkAt ??= now;
              lastChunkAt = now;
              chunks++;
              batcher.push(text);
            },
          });
          batcher.flush();
          dispatch({ type: "finish", messageId, ...result, client: clientMetrics() });
          setAnnouncement(
            result.finishReason === "length"
              ? "Reply cut off at the length limit."
              : result.finishReason === "content_filter"
                ? "Reply stopped by the content filter."
                : "Reply complete.",
          );
          break;
        } catch (error) {
          batcher.flush();
          if (signal.aborted) {
            dispatch({ type: "stop", messageId, client: clientMetrics() });
            setAnnouncement("Stopped. The partial reply is kept.");
            break;
          }
          const failure: Failure =
            error instanceof StreamFailure
              ? error.failure
              : { kind: "network", message: error instanceof Error ? error.message : String(error), retryable: true };
          const delay = reconnectDelay(failure, attempt);
          if (delay === undefined) {
            const retryAt = failure.retryAfterMs !== undefined ? Date.now() + failure.retryAfterMs : undefined;
            dispatch({ type: "fail", messageId, failure, client: clientMetrics(), retryAt });
            setAnnouncement(`Reply failed: ${failure.message}`);
            break;
          }
          attempt++;
          dispatch({ type: "reconnecting", messageId, attempt, retryAt: Date.now() + delay, reason: failure });
          setAnnouncement(`${failure.message} Reconnecting, attempt ${attempt} of ${MAX_RECONNECTS}.`);
          try {
            await sleep(delay, signal);
          } catch {
            dispatch({ type: "stop", messageId, client: clientMetrics() });
            setAnnouncement("Stopped. The partial reply is kept.");
            break;
          }
        }
      }
      batcher.cancel();
      if (runRef.current === run) runRef.current = null;
    },
    [apiBaseUrl],
  );

  const send = useCallback(
    (raw: string): boolean => {
      const text = raw.trim();
      const current = stateRef.current;
      if (!text || current.streaming) return false;
      const conversation = current.conversations.find((c) => c.id === current.activeId);
      const history = buildHistory(conversation?.messages ?? []);
      const assistantId = newId();
      dispatch({
        type: "send",
        conversationId: conversation?.id ?? newId(),
        userId: newId(),
        assistantId,
        text,
        now: Date.now(),
      });
      void runReply(assistantId, text, history);
      return true;
    },
    [runReply],
  );

  const restart = useCallback(
    (messageId: string) => {
      const current = stateRef.current;
      if (current.streaming) return;
      const conversation = current.conversations.find((c) => c.messages.some((m) => m.id === messageId));
      if (!conversation) return;
      const index = conversation.messages.findIndex((m) => m.id === messageId);
      const userTurn: Message | undefined = conversation.messages[index - 1];
      if (index !== conversation.messages.length - 1 || userTurn?.role !== "user") return;
      dispatch({ type: "restartReply", conversationId: conversation.id, messageId, now: Date.now() });
      void runReply(messageId, userTurn.content, buildHistory(conversation.messages.slice(0, index - 1)));
    },
    [runReply],
  );

  const stop = useCallback(() => runRef.current?.controller.abort(), []);

  const deleteChat = useCallback((id: string) => {
    if (stateRef.current.streaming?.conversationId === id) runRef.current?.controller.abort();
    dispatch({ type: "deleteChat", id });
  }, []);

  const newChat = useCallback(() => dispatch({ type: "newChat" }), []);
  const selectChat = useCallback((id: string) => dispatch({ type: "selectChat", id }), []);

  return { state, announcement, send, stop, restart, newChat, selectChat, deleteChat };
}
