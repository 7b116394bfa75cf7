import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { flushSync } from "react-dom";
import { authorizedFetch, type TokenSource } from "../api/auth";
import { createChatApi, type ChatApi } from "../api/chatClient";
import { requestModelName, requestTitle } from "../api/extras";
import { buildHistory } from "../api/history";
import { createFrameBatcher } from "./frameBatcher";
import { measureFlush } from "./perf";
import { openConversationStore, StorageFullError, writeUnsaved, type ConversationStore, type UnsavedReply } from "./persistence";
import { chatReducer, initialState, statsDelta, streamingMessageIn } from "./reducer";
import { byRecency } from "./chatList";
import { createReplyLocks } from "./replyLock";
import { ConversationTooLargeError, createConversationSync, syncOnFocusAndOnline, type ConversationSync, type SyncConversation } from "./sync";
import { MAX_RECONNECTS, runReply, type RunOutcome } from "./replyRunner";
import type { ChatState, Conversation, Message, ReplyMetrics, SessionStats, StreamPosition } from "./types";

export { MAX_RECONNECTS, reconnectDelay } from "./replyRunner";

const NO_STATS: SessionStats = initialState.stats;

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
  /**
   * Regenerate (a finished reply, anywhere: the old one and the turns after it stay as a version) and
   * Retry (the last reply, failed or stopped: its text stays as a previous attempt).
   */
  restart(messageId: string): void;
  /** Edit an earlier question and send it again: the old question and what followed stay as a version. */
  editMessage(messageId: string, text: string): boolean;
  /** Shows another version of a message (and the turns that followed it then). */
  selectVersion(messageId: string, index: number): void;
  /** A title the user chose: never replaced by a generated one. */
  rename(conversationId: string, title: string): void;
  /** The Undo window of a delete ended: a reply still streaming in that chat stops now. */
  forgetDeleted(conversationId: string): void;
  /** The model's name (from /api/health, else from the last reply's meta frame). */
  modelName: string | undefined;
  /** Chats the server refused as too large to sync (413): kept in this browser only. */
  tooLargeToSync: ReadonlySet<string>;
  /** After a refused request: removes the refused turn and returns its text for the message box. */
  editLastTurn(messageId: string): string | undefined;
  newChat(): void;
  selectChat(id: string): void;
  deleteChat(id: string): DeletedChat | undefined;
  undoDelete(deleted: DeletedChat): void;
  /** Tries to save again (after the user made room). */
  retrySave(): void;
  /** Removes a previous attempt's text (the user read it). */
  dismissAttempt(messageId: string, index: number): void;
}

/** The request that asks a reply's turn again: its question and the history before it. */
function bodyFor(conversation: Conversation | undefined, messageId: string) {
  const messages = conversation?.messages ?? [];
  const index = messages.findIndex((m) => m.id === messageId);
  const question = messages[index - 1];
  if (index < 1 || question.role !== "user") return undefined;
  return { message: question.content, history: buildHistory(messages.slice(0, index - 1)) };
}

function findMessage(state: ChatState, messageId: string): { conversation: Conversation; message: Message } | undefined {
  const conversationId = state.streaming[messageId];
  const conversation = state.conversations.find((c) => c.id === conversationId);
  const message = conversation?.messages.find((m) => m.id === messageId);
  return conversation && message ? { conversation, message } : undefined;
}

export function useChat(apiBaseUrl: string, tokens: TokenSource | null = null): ChatApiHooks {
  const [state, dispatch] = useReducer(chatReducer, initialState);
  const [announcement, setAnnouncement] = useState("");
  const [storage, setStorage] = useState<StorageStatus>("loading");
  const [tooLargeToSync, setTooLargeToSync] = useState<ReadonlySet<string>>(() => new Set());
  const stateRef = useRef(state);
  stateRef.current = state;
  /** Replies running in this tab: Stop aborts, flush hands over text not rendered yet (before a save on leaving). */
  const runsRef = useRef(new Map<string, { controller: AbortController; flush: () => void }>());
  const locks = useMemo(() => createReplyLocks(), []);
  /** Replies this tab has started or picked up (each is picked up once). */
  const pickedUpRef = useRef(new Set<string>());
  const apiFetch = useMemo(() => authorizedFetch(tokens), [tokens]);
  const api: ChatApi = useMemo(() => createChatApi(apiBaseUrl, apiFetch), [apiBaseUrl, apiFetch]);

  const [healthModel, setHealthModel] = useState<string | undefined>();
  useEffect(() => {
    const controller = new AbortController();
    void requestModelName(apiBaseUrl, fetch, controller.signal).then((name) => !controller.signal.aborted && setHealthModel(name));
    return () => controller.abort();
  }, [apiBaseUrl]);

  /**
   * Once the first reply of a chat ends, asks the title endpoint for a short title; the local title
   * (from the first message) stays when that fails, and a title the user chose is never replaced.
   */
  const titled = useRef(new Set<string>());
  const generateTitle = useCallback(
    async (messageId: string) => {
      const found = findMessage(stateRef.current, messageId);
      if (!found) return;
      const { conversation } = found;
      const [question, reply] = conversation.messages;
      if (conversation.titleSource !== "fallback" || reply?.id !== messageId || question?.role !== "user" || titled.current.has(conversation.id)) return;
      titled.current.add(conversation.id);
      const title = await requestTitle(apiBaseUrl, apiFetch, question.content, found.message.content);
      if (title) dispatch({ type: "setTitle", conversationId: conversation.id, title, source: "generated" });
    },
    [apiBaseUrl, apiFetch],
  );

  // Read the stored conversations once.
  const storeRef = useRef<ConversationStore | null>(null);
  const savedRef = useRef(new Map<string, Conversation>());
  /** The counts the store already has from this tab (plus what it had when read). */
  const savedStatsRef = useRef<SessionStats>(NO_STATS);
  useEffect(() => {
    let cancelled = false;
    openConversationStore()
      .then(async (store) => {
        const stored = await store.load();
        if (cancelled) return;
        storeRef.current = store;
        // What was just read is what is stored: nothing to write back (another tab may be saving newer text).
        for (const c of stored.conversations) savedRef.current.set(c.id, c);
        savedStatsRef.current = stored.stats ?? NO_STATS;
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

  // Signed-in users' chats follow them (docs/conversations.md): pulled on load, on focus and when
  // back online; a chat is pushed once nothing in it streams (a completed reply, a rename, a version
  // switch) and deleted on the server when deleted here. Anonymous callers: sync turns itself off.
  const syncRef = useRef<ConversationSync | null>(null);
  /** The version of each chat the server has (as pushed or pulled): unchanged ones are not pushed again. */
  const syncedRef = useRef(new Map<string, Conversation>());
  const markTooLarge = useCallback((id: string, tooLarge: boolean) => {
    setTooLargeToSync((current) => {
      if (current.has(id) === tooLarge) return current;
      const next = new Set(current);
      if (tooLarge) next.add(id);
      else next.delete(id);
      return next;
    });
  }, []);
  /** The save of each chat in flight (each ends resolved: errors are handled in it). */
  const pushingRef = useRef(new Map<string, Promise<void>>());
  const pushToServer = useCallback((put: Conversation[], remove: string[]) => {
    const sync = syncRef.current;
    if (!sync || sync.state === "off") return;
    for (const c of put) {
      if (syncedRef.current.get(c.id) === c || c.messages.some((m) => m.status === "streaming")) continue;
      syncedRef.current.set(c.id, c);
      // One save of a chat at a time: a second one started before the first has its ETag (a generated title
      // right after the first reply) would meet this page's own save as a conflict, a wasted 412 and merge.
      const previous = pushingRef.current.get(c.id) ?? Promise.resolve();
      const pushed = previous
        .then(() => sync.push(c as unknown as SyncConversation))
        .then(() => markTooLarge(c.id, false))
        .catch((error: unknown) => {
          syncedRef.current.delete(c.id);
          if (error instanceof ConversationTooLargeError) markTooLarge(c.id, true);
        })
        .finally(() => {
          if (pushingRef.current.get(c.id) === pushed) pushingRef.current.delete(c.id);
        });
      pushingRef.current.set(c.id, pushed);
    }
    for (const id of remove) {
      syncedRef.current.delete(id);
      markTooLarge(id, false);
      sync.remove(id).catch(() => {});
    }
  }, [markTooLarge]);
  useEffect(() => {
    if (!tokens || !state.hydrated) return;
    const sync = createConversationSync({
      apiBaseUrl,
      fetch: apiFetch,
      onTooLarge: (id) => markTooLarge(id, true),
      local: {
        list: async () => stateRef.current.conversations as unknown as SyncConversation[],
        get: async (id) => stateRef.current.conversations.find((c) => c.id === id) as unknown as SyncConversation | undefined,
        put: async (doc) => {
          const conversation = doc as unknown as Conversation;
          // A chat replying here is left alone: its text grows meanwhile; it is pushed (and merged) when the reply ends.
          if (streamingMessageIn(stateRef.current, conversation.id) !== undefined) return;
          syncedRef.current.set(conversation.id, conversation);
          const present = stateRef.current.conversations.some((c) => c.id === conversation.id);
          dispatch(present ? { type: "adopt", conversation } : { type: "hydrate", conversations: [conversation], activeId: null });
        },
        remove: async (id) => {
          syncedRef.current.delete(id);
          if (stateRef.current.conversations.some((c) => c.id === id)) dispatch({ type: "deleteChat", id });
        },
      },
    });
    syncRef.current = sync;
    sync.pull().catch(() => {});
    const stop = syncOnFocusAndOnline(sync, window);
    return () => {
      stop();
      syncRef.current = null;
    };
  }, [tokens, apiBaseUrl, apiFetch, state.hydrated, markTooLarge]);

  // Save what changed: at once when idle, at most every SAVE_INTERVAL_MS while replies stream.
  // Conversation objects are replaced on every change (reducer), so identity tells what changed.
  const savedActiveRef = useRef<string | null>(null);
  const lastSaveRef = useRef(0);
  const savingRef = useRef(false);
  const [saveTick, setSaveTick] = useState(0);
  /** A save asked for while one was running: run it as soon as that one ends (leaving the page cannot wait a second). */
  const saveAgainRef = useRef(false);
  const save = useCallback(async (): Promise<void> => {
    const store = storeRef.current;
    if (!store) return;
    if (savingRef.current) {
      saveAgainRef.current = true;
      return;
    }
    const { conversations, activeId, stats } = stateRef.current;
    const saved = savedRef.current;
    // A reply another tab owns is saved by that tab; this one only shows it.
    const put = conversations.filter((c) => saved.get(c.id) !== c && !c.messages.some((m) => m.followed));
    const present = new Set(conversations.map((c) => c.id));
    const remove = [...saved.keys()].filter((id) => !present.has(id));
    const added = statsDelta(stats, savedStatsRef.current);
    const statsChanged = Object.values(added).some((n) => n !== 0);
    if (put.length === 0 && remove.length === 0 && activeId === savedActiveRef.current && !statsChanged) return;
    savingRef.current = true;
    lastSaveRef.current = Date.now();
    try {
      await store.save({ put, remove, activeId, stats: added });
      for (const c of put) saved.set(c.id, c);
      for (const id of remove) saved.delete(id);
      pushToServer(put, remove);
      savedActiveRef.current = activeId;
      savedStatsRef.current = stats;
      setStorage("ok");
    } catch (error) {
      // Never drop anything to make room: keep everything in memory and let the user choose.
      setStorage(error instanceof StorageFullError ? "full" : "unavailable");
    } finally {
      savingRef.current = false;
    }
    if (saveAgainRef.current) {
      saveAgainRef.current = false;
      return save();
    }
    // Changes made while this save ran are saved next.
    if (stateRef.current.conversations !== conversations || stateRef.current.stats !== stats) setSaveTick((n) => n + 1);
  }, []);

  const busy = Object.keys(state.streaming).length > 0;
  useEffect(() => {
    if (!state.hydrated || storage === "full") return;
    if (!busy) {
      void save();
      return;
    }
    // A reply whose stream became known is saved at once: from then on a reload or another tab can resume it.
    const unsavedStream = Object.entries(state.streaming).some(([messageId, conversationId]) => {
      const saved = savedRef.current.get(conversationId)?.messages.find((m) => m.id === messageId);
      const current = state.conversations.find((c) => c.id === conversationId)?.messages.find((m) => m.id === messageId);
      return current?.stream !== undefined && !current.followed && saved?.stream?.streamId !== current.stream.streamId;
    });
    const wait = unsavedStream ? 0 : Math.max(0, SAVE_INTERVAL_MS - (Date.now() - lastSaveRef.current));
    const timer = setTimeout(() => void save(), wait);
    return () => clearTimeout(timer);
  }, [state.conversations, state.streaming, state.activeId, state.stats, state.hydrated, busy, storage, save, saveTick]);

  // Leaving or hiding the page saves what is on screen now, not as of the last periodic save, so a
  // reload shows every character that was shown (and resumes right after the last one).
  useEffect(() => {
    const saveNow = () => {
      for (const run of runsRef.current.values()) run.flush();
      // Synchronously first: the IndexedDB save below may not commit before the page goes.
      const { streaming, conversations } = stateRef.current;
      const tails: UnsavedReply[] = [];
      for (const [messageId, conversationId] of Object.entries(streaming)) {
        const m = conversations.find((c) => c.id === conversationId)?.messages.find((x) => x.id === messageId);
        if (m?.stream && !m.followed) tails.push({ conversationId, messageId, content: m.content, stream: m.stream });
      }
      writeUnsaved(undefined, tails);
      void save();
    };
    const onVisibility = () => document.visibilityState === "hidden" && saveNow();
    window.addEventListener("pagehide", saveNow);
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      window.removeEventListener("pagehide", saveNow);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [save]);

  // While storage is full, every deletion the user makes is a chance to save again.
  const count = state.conversations.length;
  useEffect(() => {
    if (storage === "full") void save();
  }, [count, storage, save]);

  const retrySave = useCallback(() => void save(), [save]);

  // Leaving the page stops every reply, so the server stops generating (and billing) for nobody.
  useEffect(() => {
    const runs = runsRef.current;
    return () => runs.forEach((run) => run.controller.abort());
  }, []);

  /**
   * Runs a reply in this tab until it ends, and shows how it ended. `resumeFrom`: continue that stream
   * (after a reload or in a second tab) instead of asking. `follow`: another tab owns the reply; a
   * failure that would re-ask the turn ends the run as "lost" instead (the owner re-asks).
   */
  const execute = useCallback(
    async (
      messageId: string,
      body: { message: string; history: ReturnType<typeof buildHistory> },
      { resumeFrom, follow = false, askAgainIfGone = true }: { resumeFrom?: StreamPosition; follow?: boolean; askAgainIfGone?: boolean } = {},
    ): Promise<RunOutcome> => {
      const controller = new AbortController();
      const runStart = performance.now();
      // Per attempt: the rate shown is the one of the attempt whose text is on screen.
      let firstTextAt: number | undefined;
      let attemptChunks = 0;
      let attemptFirst: number | undefined;
      let attemptLast = 0;
      // A resumed attempt's span includes time without a connection: its rate is the server's.
      let attemptResumed = resumeFrom !== undefined;
      const clientMetrics = (): ReplyMetrics | undefined =>
        firstTextAt === undefined
          ? undefined
          : {
              clientTtftMs: resumeFrom ? undefined : firstTextAt - runStart,
              clientStreamMs: attemptResumed || attemptFirst === undefined ? undefined : attemptLast - attemptFirst,
              chunks: attemptResumed ? undefined : attemptChunks,
            };

      // Each frame flush renders synchronously (flushSync) so the new text is on screen in that frame,
      // with the id of the frame its last character came from, so what is kept is what is resumed.
      let pendingEventId = "";
      const batcher = createFrameBatcher((text, count) =>
        measureFlush(count, () => flushSync(() => dispatch({ type: "appendText", messageId, text, lastEventId: pendingEventId }))),
      );
      runsRef.current.set(messageId, { controller, flush: () => batcher.flush() });

      if (!follow) setAnnouncement(resumeFrom ? "Resuming the reply." : "Assistant is replying.");
      const outcome = await runReply(
        api,
        body,
        controller.signal,
        {
          onMeta: (meta, eventId) => dispatch({ type: "meta", messageId, model: meta.model, streamId: meta.streamId, lastEventId: eventId }),
          onThinking: () => dispatch({ type: "thinking", messageId, at: Date.now() }),
          onReasoning: (text, eventId) => {
            // Text first, so that the reply's own order holds; reasoning is rare and short, no batching needed.
            batcher.flush();
            dispatch({ type: "appendReasoning", messageId, text, lastEventId: eventId });
          },
          onChunk: (text, eventId) => {
            const now = performance.now();
            firstTextAt ??= now;
            attemptFirst ??= now;
            attemptLast = now;
            attemptChunks++;
            pendingEventId = eventId;
            batcher.push(text);
          },
          onRestarting: (attempt, retryAt, reason, network) => {
            batcher.flush();
            attemptChunks = 0;
            attemptFirst = undefined;
            attemptResumed = false;
            dispatch({ type: "reconnecting", messageId, attempt, retryAt, reason, network });
            setAnnouncement(`${reason.message} Asking again, attempt ${attempt} of ${MAX_RECONNECTS}. The earlier text is kept.`);
          },
          onResuming: (attempt, retryAt, reason) => {
            batcher.flush();
            attemptResumed = true;
            dispatch({ type: "resuming", messageId, attempt, retryAt, reason });
            setAnnouncement(`${reason.message} Resuming the reply.`);
          },
          onResumed: () => dispatch({ type: "resumed", messageId }),
          onOffline: (offline) => {
            batcher.flush();
            dispatch({ type: "offline", messageId, offline });
            setAnnouncement(offline ? "Offline. The reply continues when the connection is back." : "Back online.");
          },
        },
        { resumeFrom: resumeFrom && { streamId: resumeFrom.streamId, lastEventId: resumeFrom.lastEventId }, follow, askAgainIfGone },
      );
      batcher.flush();
      batcher.cancel();
      if (runsRef.current.get(messageId)?.controller === controller) runsRef.current.delete(messageId);
      switch (outcome.kind) {
        case "done": {
          const { result } = outcome;
          if (result.finishReason === "cancelled") {
            // Not stopped here: by another tab or client, or by the server when nobody read it for its grace window.
            const failure = {
              kind: "incomplete" as const,
              message: "The reply was stopped on the server before it finished (from another tab or window, or because nobody was reading it).",
              retryable: true,
            };
            dispatch({ type: "fail", messageId, failure, client: clientMetrics() });
            setAnnouncement(`Reply failed: ${failure.message}`);
            break;
          }
          if (result.finishReason === "stop") void generateTitle(messageId);
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
        case "lost":
          break;
      }
      return outcome;
    },
    [api, generateTitle],
  );

  /** A new reply (send, Regenerate, Retry): this tab owns it from the start. */
  const startRun = useCallback(
    (messageId: string, message: string, history: ReturnType<typeof buildHistory>) => {
      pickedUpRef.current.add(messageId);
      void locks.hold(messageId, () => execute(messageId, { message, history }));
    },
    [execute, locks],
  );

  /**
   * A reply that was streaming when the page was last saved: resume it here when no other tab owns
   * it; otherwise follow it and take it over when that tab lets go (closed, or its run ended).
   */
  const pickUp = useCallback(
    async (messageId: string) => {
      const found = findMessage(stateRef.current, messageId);
      const body = found && bodyFor(found.conversation, messageId);
      const stream = found?.message.stream;
      if (!found) return;
      if (!body || !stream) {
        // Nothing to resume from or to ask with (a damaged record): keep the text and offer Retry.
        dispatch({ type: "fail", messageId, failure: { kind: "network", message: "Interrupted: this reply cannot be resumed.", retryable: true } });
        return;
      }
      const owned = await locks.tryHold(messageId, () => execute(messageId, body, { resumeFrom: stream, askAgainIfGone: false }));
      if (owned.held) return;

      dispatch({ type: "follow", messageId, followed: true });
      let owner = false;
      let release = () => {};
      const letGo = new Promise<void>((resolve) => (release = resolve));
      let granted = () => {};
      const grant = new Promise<void>((resolve) => (granted = resolve));
      const waiting = new AbortController();
      const lock = locks
        .hold(
          messageId,
          async () => {
            owner = true;
            // This tab owns the reply now: it saves it from here on.
            dispatch({ type: "follow", messageId, followed: false });
            granted();
            await letGo;
          },
          waiting.signal,
        )
        .catch(() => {});
      try {
        const outcome = await execute(messageId, body, { resumeFrom: stream, follow: true });
        if (outcome.kind !== "lost") return;
        if (!owner) {
          // The owner re-asks or ends the reply; once it lets go, continue from what it saved.
          await grant;
          const stored = await storeRef.current?.get(found.conversation.id);
          if (stored) {
            savedRef.current.set(stored.id, stored);
            flushSync(() => dispatch({ type: "adopt", conversation: stored }));
          }
        }
        const now = findMessage(stateRef.current, messageId);
        const nowBody = now && bodyFor(now.conversation, messageId);
        if (now?.message.status !== "streaming" || !nowBody) return;
        if (now.message.stream) await execute(messageId, nowBody, { resumeFrom: now.message.stream, askAgainIfGone: false });
        else dispatch({ type: "fail", messageId, failure: { kind: "network", message: "Interrupted before the reply could be resumed.", retryable: true } });
      } finally {
        waiting.abort();
        release();
        await lock;
      }
    },
    [execute, locks],
  );

  // Once the stored chats are read: every reply that was streaming when they were saved is picked up.
  useEffect(() => {
    if (!state.hydrated) return;
    for (const messageId of Object.keys(stateRef.current.streaming)) {
      if (pickedUpRef.current.has(messageId)) continue;
      pickedUpRef.current.add(messageId);
      void pickUp(messageId);
    }
  }, [state.hydrated, pickUp]);

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
      startRun(assistantId, text, history);
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
      const reply = conversation.messages[index];
      const userTurn: Message | undefined = conversation.messages[index - 1];
      if (userTurn?.role !== "user") return;
      if (reply.status === "done") {
        dispatch({ type: "regenerate", conversationId: conversation.id, messageId, now: Date.now() });
      } else {
        if (index !== conversation.messages.length - 1) return;
        dispatch({ type: "restartReply", conversationId: conversation.id, messageId, now: Date.now() });
      }
      startRun(messageId, userTurn.content, buildHistory(conversation.messages.slice(0, index - 1)));
    },
    [startRun],
  );

  const editMessage = useCallback(
    (messageId: string, raw: string): boolean => {
      const text = raw.trim();
      const current = stateRef.current;
      const conversation = current.conversations.find((c) => c.messages.some((m) => m.id === messageId));
      if (!text || !conversation || streamingMessageIn(current, conversation.id)) return false;
      const index = conversation.messages.findIndex((m) => m.id === messageId);
      if (conversation.messages[index].role !== "user") return false;
      const assistantId = newId();
      dispatch({ type: "editMessage", conversationId: conversation.id, messageId, text, assistantId, now: Date.now() });
      startRun(assistantId, text, buildHistory(conversation.messages.slice(0, index)));
      return true;
    },
    [startRun],
  );

  const selectVersion = useCallback((messageId: string, index: number) => {
    const conversation = stateRef.current.conversations.find((c) => c.messages.some((m) => m.id === messageId));
    if (conversation) dispatch({ type: "selectVersion", conversationId: conversation.id, messageId, index });
  }, []);

  const rename = useCallback((conversationId: string, title: string) => {
    dispatch({ type: "setTitle", conversationId, title, source: "user" });
  }, []);

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
    if (messageId) runsRef.current.get(messageId)?.controller.abort();
  }, []);

  const deleteChat = useCallback((id: string): DeletedChat | undefined => {
    const current = stateRef.current;
    const index = current.conversations.findIndex((c) => c.id === id);
    if (index < 0) return undefined;
    // The open chat is replaced by the one that takes its place in the list (the next one, else the one above).
    const ordered = byRecency(current.conversations);
    const position = ordered.findIndex((c) => c.id === id);
    const nextId = (ordered[position + 1] ?? ordered[position - 1])?.id ?? null;
    // A reply streaming in it goes on until the Undo window ends (forgetDeleted), so Undo brings it back running.
    dispatch({ type: "deleteChat", id, nextId });
    const conversation = current.conversations[index];
    setAnnouncement(`Deleted conversation: ${conversation.title}.`);
    return { conversation, index, wasActive: current.activeId === id };
  }, []);

  const forgetDeleted = useCallback((id: string) => {
    const current = stateRef.current;
    const kept = current.deleted?.find((c) => c.id === id);
    if (!kept) return;
    for (const m of kept.messages) if (current.streaming[m.id] === id) runsRef.current.get(m.id)?.controller.abort();
    dispatch({ type: "purgeDeleted", id });
  }, []);

  const undoDelete = useCallback((deleted: DeletedChat) => {
    dispatch({ type: "restoreChat", ...deleted });
    setAnnouncement(`Restored conversation: ${deleted.conversation.title}.`);
  }, []);

  const newChat = useCallback(() => dispatch({ type: "newChat" }), []);
  const selectChat = useCallback((id: string) => dispatch({ type: "selectChat", id }), []);

  const dismissAttempt = useCallback((messageId: string, index: number) => dispatch({ type: "dismissAttempt", messageId, index }), []);

  // The model of the newest reply when /api/health did not say.
  const lastModel = state.conversations.find((c) => c.messages.some((m) => m.model))?.messages.filter((m) => m.model).at(-1)?.model;
  const modelName = healthModel ?? lastModel;

  return {
    state,
    announcement,
    storage,
    send,
    stop,
    restart,
    editMessage,
    selectVersion,
    rename,
    forgetDeleted,
    modelName,
    tooLargeToSync,
    editLastTurn,
    newChat,
    selectChat,
    deleteChat,
    undoDelete,
    retrySave,
    dismissAttempt,
  };
}
