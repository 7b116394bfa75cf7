import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { flushSync } from "react-dom";
import { authorizedFetch, type TokenSource } from "../api/auth";
import { createChatApi, type ChatApi } from "../api/chatClient";
import { buildHistory } from "../api/history";
import { createFrameBatcher } from "./frameBatcher";
import { measureFlush } from "./perf";
import { openConversationStore, StorageFullError, type ConversationStore } from "./persistence";
import { chatReducer, initialState, streamingMessageIn } from "./reducer";
import { MAX_RECONNECTS, runReply } from "./replyRunner";
import type { ChatState, Conversation, Message, ReplyMetrics } from "./types";

export { MAX_RECONNECTS, reconnectDelay } from "./replyRunner";

/** While any reply streams, save at most this often; every end of a reply saves at once. */
const SAVE_INTERVAL_MS = 1_000;

const newId = () =>
  typeof crypto !== "undefined" && "randomUUID" in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

/** What a Delete took away, so Undo can put it back where it was. */
export interface DeletedChat {
  conversation: Conversation;
  index: number;
  wasActive: boolean;
}

export type StorageStatus = "loading" | "ok" | "full" | "unavailable";

export interface ChatApiHooks {
  state: ChatState;
  announcement: string;
  storage: StorageStatus;
  /** Sends in the active conversation; false when it is already streaming or the text is empty. */
  send(text: string): boolean;
  /** Stops the reply streaming in this conversation (the others keep going). */
  stop(conversationId: string): void;
  /** Regenerate (after a finished reply) and Retry (after a failed or stopped one) both re-ask the last turn. */
  restart(messageId: string): void;
  /** After a refused request: removes the refused turn and returns its text for the message box. */
  editLastTurn(messageId: string): string | undefined;
  newChat(): void;
  selectChat(id: string): void;
  deleteChat(id: string): DeletedChat | undefined;
  undoDelete(deleted: DeletedChat): void;
  /** Tries to save again (after the user made room). */
  retrySave(): void;
}

export function useChat(apiBaseUrl: string, tokens: TokenSource | null = null): ChatApiHooks {
  const [state, dispatch] = useReducer(chatReducer, initialState);
  const [announcement, setAnnouncement] = useState("");
  const [storage, setStorage] = useState<StorageStatus>("loading");
  const stateRef = useRef(state);
  stateRef.current = state;
  const runsRef = useRef(new Map<string, AbortController>());
  const api: ChatApi = useMemo(() => createChatApi(apiBaseUrl, authorizedFetch(tokens)), [apiBaseUrl, tokens]);

  // Read the stored conversations once.
  const storeRef = useRef<ConversationStore | null>(null);
  useEffect(() => {
    let cancelled = false;
    openConversationStore()
      .then(async (store) => {
        const stored = await store.load();
        if (cancelled) return;
        storeRef.current = store;
        dispatch({ type: "hydrate", ...stored });
        setStorage("ok");
      })
      .catch(() => {
        if (cancelled) return;
        // Private modes or disabled storage: the page still works, for this visit only.
        dispatch({ type: "hydrate", conversations: [], activeId: null });
        setStorage("unavailable");
      });
    return () => {
      cancelled = true;
    };
  }, []);

  // Save what changed: at once when idle, at most every SAVE_INTERVAL_MS while replies stream.
  // Conversation objects are replaced on every change (reducer), so identity tells what changed.
  const savedRef = useRef(new Map<string, Conversation>());
  const savedActiveRef = useRef<string | null>(null);
  const lastSaveRef = useRef(0);
  const savingRef = useRef(false);
  const [saveTick, setSaveTick] = useState(0);
  const save = useCallback(async () => {
    const store = storeRef.current;
    if (!store || savingRef.current) return;
    const { conversations, activeId } = stateRef.current;
    const saved = savedRef.current;
    const put = conversations.filter((c) => saved.get(c.id) !== c);
    const present = new Set(conversations.map((c) => c.id));
    const remove = [...saved.keys()].filter((id) => !present.has(id));
    if (put.length === 0 && remove.length === 0 && activeId === savedActiveRef.current) return;
    savingRef.current = true;
    lastSaveRef.current = Date.now();
    try {
      await store.save({ put, remove, activeId });
      for (const c of put) saved.set(c.id, c);
      for (const id of remove) saved.delete(id);
      savedActiveRef.current = activeId;
      setStorage("ok");
    } catch (error) {
      // Never drop anything to make room: keep everything in memory and let the user choose.
      setStorage(error instanceof StorageFullError ? "full" : "unavailable");
    } finally {
      savingRef.current = false;
    }
    // Changes made while this save ran are saved next.
    if (stateRef.current.conversations !== conversations) setSaveTick((n) => n + 1);
  }, []);

  const busy = Object.keys(state.streaming).length > 0;
  useEffect(() => {
    if (!state.hydrated || storage === "full") return;
    if (!busy) {
      void save();
      return;
    }
    const wait = Math.max(0, SAVE_INTERVAL_MS - (Date.now() - lastSaveRef.current));
    const timer = setTimeout(() => void save(), wait);
    return () => clearTimeout(timer);
  }, [state.conversations, state.activeId, state.hydrated, busy, storage, save, saveTick]);

  // While storage is full, every deletion the user makes is a chance to save again.
  const count = state.conversations.length;
  useEffect(() => {
    if (storage === "full") void save();
  }, [count, storage, save]);

  const retrySave = useCallback(() => void save(), [save]);

  // Leaving the page stops every reply, so the server stops generating (and billing) for nobody.
  useEffect(() => {
    const runs = runsRef.current;
    return () => runs.forEach((controller) => controller.abort());
  }, []);

  const startRun = useCallback(
    async (messageId: string, message: string, history: ReturnType<typeof buildHistory>) => {
      const controller = new AbortController();
      runsRef.current.set(messageId, controller);
      const runStart = performance.now();
      let chunks = 0;
      let firstChunkAt: number | undefined;
      let lastChunkAt = 0;
      const clientMetrics = (): ReplyMetrics | undefined =>
        firstChunkAt === undefined
          ? undefined
          : { clientTtftMs: firstChunkAt - runStart, clientStreamMs: lastChunkAt - firstChunkAt, chunks };

      // Each frame flush renders synchronously (flushSync) so the new text is on screen in that frame.
      const batcher = createFrameBatcher((text, count) =>
        measureFlush(count, () => flushSync(() => dispatch({ type: "appendText", messageId, text }))),
      );

      setAnnouncement("Assistant is replying.");
      const outcome = await runReply(api, { message, history }, controller.signal, {
        onMeta: (meta) => dispatch({ type: "meta", messageId, model: meta.model }),
        onThinking: () => dispatch({ type: "thinking", messageId, at: Date.now() }),
        onChunk: (text) => {
          const now = performance.now();
          firstChunkAt ??= now;
          lastChunkAt = now;
          chunks++;
          batcher.push(text);
        },
        onRestarting: (attempt, retryAt, reason) => {
          batcher.flush();
          chunks = 0;
          dispatch({ type: "reconnecting", messageId, attempt, retryAt, reason });
          setAnnouncement(`${reason.message} Reconnecting, attempt ${attempt} of ${MAX_RECONNECTS}.`);
        },
        onResuming: (_attempt, retryAt, reason) => {
          batcher.flush();
          dispatch({ type: "resuming", messageId, retryAt, reason });
          setAnnouncement(`${reason.message} Resuming the reply.`);
        },
        onResumed: () => dispatch({ type: "resumed", messageId }),
      });
      batcher.flush();
      batcher.cancel();
      switch (outcome.kind) {
        case "done": {
          const { result } = outcome;
          dispatch({ type: "finish", messageId, ...result, client: clientMetrics() });
          setAnnouncement(
            result.finishReason === "length"
              ? "Reply cut off at the length limit."
              : result.finishReason === "content_filter"
                ? "Reply stopped by the content filter."
                : "Reply complete.",
          );
          break;
        }
        case "stopped":
          dispatch({ type: "stop", messageId, client: clientMetrics() });
          setAnnouncement("Stopped. The partial reply is kept.");
          break;
        case "failed": {
          const { failure } = outcome;
          const retryAt = failure.retryAfterMs !== undefined ? Date.now() + failure.retryAfterMs : undefined;
          dispatch({ type: "fail", messageId, failure, client: clientMetrics(), retryAt });
          setAnnouncement(`Reply failed: ${failure.message}`);
          break;
        }
      }
      if (runsRef.current.get(messageId) === controller) runsRef.current.delete(messageId);
    },
    [api],
  );

  const send = useCallback(
    (raw: string): boolean => {
      const text = raw.trim();
      const current = stateRef.current;
      const conversation = current.conversations.find((c) => c.id === current.activeId);
      if (!text || streamingMessageIn(current, conversation?.id)) return false;
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
      void startRun(assistantId, text, history);
      return true;
    },
    [startRun],
  );

  const restart = useCallback(
    (messageId: string) => {
      const current = stateRef.current;
      const conversation = current.conversations.find((c) => c.messages.some((m) => m.id === messageId));
      if (!conversation || streamingMessageIn(current, conversation.id)) return;
      const index = conversation.messages.findIndex((m) => m.id === messageId);
      const userTurn: Message | undefined = conversation.messages[index - 1];
      if (index !== conversation.messages.length - 1 || userTurn?.role !== "user") return;
      dispatch({ type: "restartReply", conversationId: conversation.id, messageId, now: Date.now() });
      void startRun(messageId, userTurn.content, buildHistory(conversation.messages.slice(0, index - 1)));
    },
    [startRun],
  );

  const editLastTurn = useCallback((messageId: string): string | undefined => {
    const current = stateRef.current;
    const conversation = current.conversations.find((c) => c.messages.some((m) => m.id === messageId));
    const messages = conversation?.messages ?? [];
    const question = messages[messages.length - 2];
    if (!conversation || messages[messages.length - 1]?.id !== messageId || question?.role !== "user") return undefined;
    dispatch({ type: "removeLastTurn", conversationId: conversation.id, messageId });
    return question.content;
  }, []);

  const stop = useCallback((conversationId: string) => {
    const messageId = streamingMessageIn(stateRef.current, conversationId);
    if (messageId) runsRef.current.get(messageId)?.abort();
  }, []);

  const deleteChat = useCallback((id: string): DeletedChat | undefined => {
    const current = stateRef.current;
    const index = current.conversations.findIndex((c) => c.id === id);
    if (index < 0) return undefined;
    const streamingId = streamingMessageIn(current, id);
    if (streamingId) runsRef.current.get(streamingId)?.abort();
    dispatch({ type: "deleteChat", id });
    // A reply that was streaming is kept as stopped, so Undo brings back what was on screen.
    const conversation = current.conversations[index];
    const kept = streamingId
      ? {
          ...conversation,
          messages: conversation.messages.map((m) =>
            m.id === streamingId ? { ...m, status: "stopped" as const, finishReason: "cancelled" as const, restartPending: false, resuming: false, retryAt: undefined } : m,
          ),
        }
      : conversation;
    setAnnouncement(`Deleted conversation: ${conversation.title}.`);
    return { conversation: kept, index, wasActive: current.activeId === id };
  }, []);

  const undoDelete = useCallback((deleted: DeletedChat) => {
    dispatch({ type: "restoreChat", ...deleted });
    setAnnouncement(`Restored conversation: ${deleted.conversation.title}.`);
  }, []);

  const newChat = useCallback(() => dispatch({ type: "newChat" }), []);
  const selectChat = useCallback((id: string) => dispatch({ type: "selectChat", id }), []);

  return { state, announcement, storage, send, stop, restart, editLastTurn, newChat, selectChat, deleteChat, undoDelete, retrySave };
}
