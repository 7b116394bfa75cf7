import type { Failure } from "../api/chatClient";
import type { FinishReason, ServerMetrics, Usage } from "../api/protocol";
import { capTitle, fallbackTitle } from "./titles";
import type { ChatState, Conversation, Message, MessageVersion, PreviousAttempt, ReplyMetrics, SessionStats, TitleSource } from "./types";

export type ChatAction =
  | { type: "hydrate"; conversations: Conversation[]; activeId: string | null; stats?: SessionStats }
  | { type: "newChat" }
  | { type: "selectChat"; id: string }
  /**
   * `nextId`: the chat that opens when the deleted one was open (the one that takes its place in the list).
   * A chat with a reply streaming leaves the list but keeps streaming (in `deleted`) until Undo or `purgeDeleted`.
   */
  | { type: "deleteChat"; id: string; nextId?: string | null }
  /** The Undo window of a deleted chat ended: it is gone for good (its reply was stopped first). */
  | { type: "purgeDeleted"; id: string }
  /** Undo of a delete: the conversation goes back where it was. */
  | { type: "restoreChat"; conversation: Conversation; index: number; wasActive: boolean }
  /** Edit after a refused request: the refused turn (question + failed reply) leaves the conversation. */
  | { type: "removeLastTurn"; conversationId: string; messageId: string }
  | { type: "send"; conversationId: string; userId: string; assistantId: string; text: string; now: number }
  | { type: "restartReply"; conversationId: string; messageId: string; now: number }
  /** Regenerate a finished reply anywhere in the chat: the old reply and the turns after it stay as a version. */
  | { type: "regenerate"; conversationId: string; messageId: string; now: number }
  /** Edit an earlier question and resend: the old question and the turns after it stay as a version. */
  | { type: "editMessage"; conversationId: string; messageId: string; text: string; assistantId: string; now: number }
  | { type: "selectVersion"; conversationId: string; messageId: string; index: number }
  /** `generated` never replaces a title the user chose. */
  | { type: "setTitle"; conversationId: string; title: string; source: TitleSource }
  | { type: "meta"; messageId: string; model: string; streamId?: string; lastEventId?: string }
  | { type: "thinking"; messageId: string; at: number }
  /** `lastEventId`: the id of the frame that carried the end of `text`, so what is kept can be resumed exactly. */
  | { type: "appendText"; messageId: string; text: string; lastEventId?: string }
  /** A delta of the model's reasoning summary; `lastEventId` as for appendText. */
  | { type: "appendReasoning"; messageId: string; text: string; lastEventId?: string }
  /** The turn is asked again automatically; the text so far becomes a previous attempt. `network`: a drop, not a server error. */
  | { type: "reconnecting"; messageId: string; attempt: number; retryAt: number; reason: Failure; network: boolean }
  | { type: "resuming"; messageId: string; attempt: number; retryAt: number; reason: Failure }
  | { type: "resumed"; messageId: string }
  | { type: "offline"; messageId: string; offline: boolean }
  /** Another tab owns the reply (followed) or this tab took it over. */
  | { type: "follow"; messageId: string; followed: boolean }
  /** This tab takes over a conversation as another tab last saved it. */
  | { type: "adopt"; conversation: Conversation }
  | { type: "dismissAttempt"; messageId: string; index: number }
  | { type: "finish"; messageId: string; finishReason: FinishReason; usage?: Usage; metrics?: ServerMetrics; client?: ReplyMetrics }
  | { type: "stop"; messageId: string; client?: ReplyMetrics }
  | { type: "fail"; messageId: string; failure: Failure; client?: ReplyMetrics; retryAt?: number };

export const initialState: ChatState = {
  conversations: [],
  activeId: null,
  streaming: {},
  hydrated: false,
  stats: { replies: 0, failedReplies: 0, reconnects: 0, resumes: 0, retries: 0 },
};

/** The counts one state adds over another (what a save adds to the stored totals). */
export function statsDelta(now: SessionStats, before: SessionStats): SessionStats {
  return {
    replies: now.replies - before.replies,
    failedReplies: now.failedReplies - before.failedReplies,
    reconnects: now.reconnects - before.reconnects,
    resumes: now.resumes - before.resumes,
    retries: now.retries - before.retries,
  };
}

export function addStats(a: SessionStats, b: SessionStats): SessionStats {
  return {
    replies: a.replies + b.replies,
    failedReplies: a.failedReplies + b.failedReplies,
    reconnects: a.reconnects + b.reconnects,
    resumes: a.resumes + b.resumes,
    retries: a.retries + b.retries,
  };
}

/** What a previous attempt is labelled with: why the text stopped there. */
export function attemptReason(m: Message, failure?: Failure): string {
  const f = failure ?? m.failure;
  if (f) return `${failureLabel(f)}: ${f.message}`;
  if (m.status === "stopped") return "Stopped.";
  if (m.status === "done") return "An earlier reply, regenerated.";
  return "Interrupted.";
}

/** The words a failure is shown with: a server error is never called a connection problem. */
export function failureLabel(f: Failure): string {
  switch (f.kind) {
    case "rate_limited":
      return "Rate limited";
    case "network":
      return "Connection lost";
    case "auth":
      return "Signed out";
    case "budget":
      return "Daily budget spent";
    case "incomplete":
      return "Incomplete";
    case "http":
      return f.status !== undefined && f.status >= 500 ? "Server error" : "Request refused";
    case "server":
      return "Server error";
  }
}

function withPreviousAttempt(m: Message, reason: string): PreviousAttempt[] | undefined {
  if (m.content.trim() === "") return m.previousAttempts;
  return [...(m.previousAttempts ?? []), { content: m.content, reason }];
}

/** A message's fields as a version, with the turns that followed it. */
export function toVersion(m: Message, after: Message[]): MessageVersion {
  const { id: _id, versions: _versions, versionIndex: _index, ...fields } = m;
  return { ...fields, after };
}

/** Every version of the message at `index`, the shown one in its place: oldest first. */
export function allVersions(messages: Message[], index: number): MessageVersion[] {
  const m = messages[index];
  const all = [...(m.versions ?? [])];
  all.splice(m.versionIndex ?? 0, 0, toVersion(m, messages.slice(index + 1)));
  return all;
}

/** Records from before titles had a source, or from another device: the fields this page relies on. */
export function normalizeConversation(c: Conversation): Conversation {
  return c.titleSource ? c : { ...c, titleSource: "fallback" };
}

/** The reply streaming in this conversation, if any. */
export function streamingMessageIn(state: ChatState, conversationId: string | null | undefined): string | undefined {
  if (!conversationId) return undefined;
  for (const [messageId, id] of Object.entries(state.streaming)) if (id === conversationId) return messageId;
  return undefined;
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "hydrate": {
      // Anything sent before the stored chats were read stays (and comes first).
      const present = new Set(state.conversations.map((c) => c.id));
      const added = action.conversations.filter((c) => !present.has(c.id)).map(normalizeConversation);
      const conversations = [...state.conversations, ...added];
      // Replies that were streaming when the page went away and can be resumed stream again here.
      const streaming = { ...state.streaming };
      for (const c of added) for (const m of c.messages) if (m.status === "streaming") streaming[m.id] = c.id;
      const stats = action.stats ? addStats(action.stats, state.stats) : state.stats;
      return { ...state, hydrated: true, conversations, streaming, stats, activeId: state.activeId ?? action.activeId };
    }

    case "newChat":
      // The conversation itself is created by the first send, so empty chats never pile up.
      return { ...state, activeId: null };

    case "selectChat":
      return state.conversations.some((c) => c.id === action.id) ? { ...state, activeId: action.id } : state;

    case "deleteChat": {
      const removed = state.conversations.find((c) => c.id === action.id);
      if (!removed) return state;
      const conversations = state.conversations.filter((c) => c.id !== action.id);
      const replying = streamingMessageIn(state, action.id) !== undefined;
      const next = action.nextId && conversations.some((c) => c.id === action.nextId) ? action.nextId : null;
      return {
        ...state,
        conversations,
        activeId: state.activeId === action.id ? next : state.activeId,
        // A reply keeps streaming into the deleted chat, so Undo brings it back still replying.
        streaming: replying ? state.streaming : withoutConversation(state.streaming, action.id),
        deleted: replying ? [...(state.deleted ?? []), removed] : state.deleted,
      };
    }

    case "purgeDeleted": {
      if (!state.deleted?.some((c) => c.id === action.id)) return state;
      const deleted = state.deleted.filter((c) => c.id !== action.id);
      return { ...state, deleted: deleted.length ? deleted : undefined, streaming: withoutConversation(state.streaming, action.id) };
    }

    case "restoreChat": {
      if (state.conversations.some((c) => c.id === action.conversation.id)) return state;
      // A chat deleted while replying comes back as it is now (its reply went on meanwhile).
      const kept = state.deleted?.find((c) => c.id === action.conversation.id);
      const deleted = state.deleted?.filter((c) => c !== kept);
      const conversations = [...state.conversations];
      conversations.splice(Math.min(action.index, conversations.length), 0, kept ?? action.conversation);
      return {
        ...state,
        conversations,
        activeId: action.wasActive ? action.conversation.id : state.activeId,
        deleted: deleted?.length ? deleted : undefined,
      };
    }

    case "removeLastTurn": {
      const conversation = state.conversations.find((c) => c.id === action.conversationId);
      const messages = conversation?.messages ?? [];
      const last = messages[messages.length - 1];
      const question = messages[messages.length - 2];
      if (!conversation || last?.id !== action.messageId || last.status !== "failed" || question?.role !== "user") return state;
      if (messages.length === 2) {
        // Nothing else was said: the conversation goes, and the text returns to the message box.
        return { ...state, conversations: state.conversations.filter((c) => c.id !== conversation.id), activeId: null };
      }
      const updated = { ...conversation, messages: messages.slice(0, -2) };
      return { ...state, conversations: state.conversations.map((c) => (c.id === conversation.id ? updated : c)) };
    }

    case "send": {
      if (streamingMessageIn(state, action.conversationId)) return state;
      const user: Message = { id: action.userId, role: "user", content: action.text, createdAt: action.now };
      const assistant: Message = {
        id: action.assistantId,
        role: "assistant",
        content: "",
        createdAt: action.now,
        status: "streaming",
        reconnects: 0,
      };
      const existing = state.conversations.find((c) => c.id === action.conversationId);
      const conversation: Conversation = existing
        ? { ...existing, messages: [...existing.messages, user, assistant], updatedAt: action.now }
        : {
            id: action.conversationId,
            title: fallbackTitle(action.text),
            titleSource: "fallback",
            messages: [user, assistant],
            createdAt: action.now,
            updatedAt: action.now,
          };
      return {
        ...state,
        conversations: [conversation, ...state.conversations.filter((c) => c.id !== action.conversationId)],
        activeId: action.conversationId,
        streaming: { ...state.streaming, [action.assistantId]: action.conversationId },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "restartReply": {
      // Regenerate / Retry: only the last message of a conversation, and only when that conversation is idle.
      if (streamingMessageIn(state, action.conversationId)) return state;
      const conversation = state.conversations.find((c) => c.id === action.conversationId);
      const last = conversation?.messages[conversation.messages.length - 1];
      if (!conversation || !last || last.id !== action.messageId || last.role !== "assistant") return state;
      const restarted: Message = {
        id: last.id,
        role: "assistant",
        // The old text stays on screen as a previous attempt until the user dismisses it.
        content: "",
        previousAttempts: withPreviousAttempt(last, attemptReason(last)),
        createdAt: action.now,
        status: "streaming",
        reconnects: 0,
      };
      const updated = { ...conversation, messages: [...conversation.messages.slice(0, -1), restarted], updatedAt: action.now };
      return {
        ...state,
        conversations: [updated, ...state.conversations.filter((c) => c.id !== conversation.id)],
        streaming: { ...state.streaming, [last.id]: conversation.id },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "regenerate": {
      if (streamingMessageIn(state, action.conversationId)) return state;
      const conversation = state.conversations.find((c) => c.id === action.conversationId);
      const messages = conversation?.messages ?? [];
      const index = messages.findIndex((m) => m.id === action.messageId);
      const reply = messages[index];
      if (!conversation || reply?.role !== "assistant" || messages[index - 1]?.role !== "user") return state;
      const versions = allVersions(messages, index);
      const fresh: Message = {
        id: reply.id,
        role: "assistant",
        content: "",
        createdAt: action.now,
        status: "streaming",
        reconnects: 0,
        versions,
        versionIndex: versions.length,
      };
      const updated = { ...conversation, messages: [...messages.slice(0, index), fresh], updatedAt: action.now };
      return {
        ...state,
        conversations: [updated, ...state.conversations.filter((c) => c.id !== conversation.id)],
        streaming: { ...state.streaming, [reply.id]: conversation.id },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "editMessage": {
      if (streamingMessageIn(state, action.conversationId)) return state;
      const conversation = state.conversations.find((c) => c.id === action.conversationId);
      const messages = conversation?.messages ?? [];
      const index = messages.findIndex((m) => m.id === action.messageId);
      const question = messages[index];
      if (!conversation || question?.role !== "user" || action.text.trim() === "") return state;
      const versions = allVersions(messages, index);
      const edited: Message = { id: question.id, role: "user", content: action.text, createdAt: action.now, versions, versionIndex: versions.length };
      const reply: Message = { id: action.assistantId, role: "assistant", content: "", createdAt: action.now, status: "streaming", reconnects: 0 };
      const updated = { ...conversation, messages: [...messages.slice(0, index), edited, reply], updatedAt: action.now };
      return {
        ...state,
        conversations: [updated, ...state.conversations.filter((c) => c.id !== conversation.id)],
        streaming: { ...state.streaming, [action.assistantId]: conversation.id },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "selectVersion": {
      // Switching while a reply streams would take the streaming message off the chat.
      if (streamingMessageIn(state, action.conversationId)) return state;
      const conversation = state.conversations.find((c) => c.id === action.conversationId);
      const messages = conversation?.messages ?? [];
      const index = messages.findIndex((m) => m.id === action.messageId);
      const current = messages[index];
      if (!conversation || !current?.versions || action.index === (current.versionIndex ?? 0)) return state;
      const all = allVersions(messages, index);
      const target = all[action.index];
      if (!target) return state;
      const { after, ...fields } = target;
      const shown: Message = { ...fields, id: current.id, versions: all.filter((_, i) => i !== action.index), versionIndex: action.index };
      const updated = { ...conversation, messages: [...messages.slice(0, index), shown, ...after] };
      return { ...state, conversations: state.conversations.map((c) => (c.id === conversation.id ? updated : c)) };
    }

    case "setTitle": {
      const conversation = state.conversations.find((c) => c.id === action.conversationId);
      // Capped at what the server keeps: a longer title would make every save of this chat fail.
      const title = capTitle(action.title.trim()).trimEnd();
      if (!conversation || !title || (action.source !== "user" && conversation.titleSource === "user")) return state;
      if (conversation.title === title && conversation.titleSource === action.source) return state;
      const updated = { ...conversation, title, titleSource: action.source };
      return { ...state, conversations: state.conversations.map((c) => (c.id === conversation.id ? updated : c)) };
    }

    case "meta":
      return updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        model: action.model || m.model,
        stream: action.streamId ? { streamId: action.streamId, lastEventId: action.lastEventId ?? "" } : m.stream,
      }));

    case "thinking":
      // A resumed stream replays its thinking frame: the think began at the first one.
      return updateStreamingMessage(state, action.messageId, (m) => ({ ...m, thinkingSince: m.thinkingSince ?? action.at }));

    case "appendText":
      if (action.text === "") return state;
      return updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        content: m.content + action.text,
        stream: m.stream && action.lastEventId ? { streamId: m.stream.streamId, lastEventId: action.lastEventId } : m.stream,
        ...(m.restartPending ? { restartPending: false, retryAt: undefined } : null),
      }));

    case "appendReasoning":
      if (action.text === "") return state;
      return updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        reasoning: (m.reasoning ?? "") + action.text,
        stream: m.stream && action.lastEventId ? { streamId: m.stream.streamId, lastEventId: action.lastEventId } : m.stream,
      }));

    case "reconnecting": {
      const next = updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        // The text so far moves aside, still on screen; the new attempt starts empty.
        content: "",
        previousAttempts: withPreviousAttempt(m, `${failureLabel(action.reason)}: ${action.reason.message}`),
        stream: undefined,
        reconnects: action.attempt,
        restartPending: true,
        // A new request: the model has not accepted it yet, nor reasoned.
        thinkingSince: undefined,
        reasoning: undefined,
        resuming: false,
        offline: false,
        retryAt: action.retryAt,
        reconnectReason: action.reason,
      }));
      if (next === state) return state;
      const stats = action.network
        ? { ...next.stats, reconnects: next.stats.reconnects + 1 }
        : { ...next.stats, retries: next.stats.retries + 1 };
      return { ...next, stats };
    }

    case "resuming": {
      // The text stays as it is: the same reply continues after the drop.
      const next = updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        resuming: true,
        resumeAttempt: action.attempt,
        offline: false,
        retryAt: action.retryAt,
        reconnectReason: action.reason,
      }));
      return next === state ? state : { ...next, stats: { ...next.stats, reconnects: next.stats.reconnects + 1 } };
    }

    case "offline":
      return updateStreamingMessage(state, action.messageId, (m) =>
        m.offline === action.offline ? m : { ...m, offline: action.offline, retryAt: undefined },
      );

    case "follow":
      return updateStreamingMessage(state, action.messageId, (m) =>
        (m.followed ?? false) === action.followed ? m : { ...m, followed: action.followed || undefined },
      );

    case "adopt": {
      const { conversation } = action;
      if (!state.conversations.some((c) => c.id === conversation.id)) return state;
      const streaming = withoutConversation(state.streaming, conversation.id);
      const next = { ...streaming };
      for (const m of conversation.messages) if (m.status === "streaming") next[m.id] = conversation.id;
      return {
        ...state,
        conversations: state.conversations.map((c) => (c.id === conversation.id ? conversation : c)),
        streaming: next,
      };
    }

    case "dismissAttempt": {
      let changed = false;
      const conversations = state.conversations.map((c) => {
        if (!c.messages.some((m) => m.id === action.messageId)) return c;
        const messages = c.messages.map((m) => {
          if (m.id !== action.messageId || !m.previousAttempts?.[action.index]) return m;
          changed = true;
          const rest = m.previousAttempts.filter((_, i) => i !== action.index);
          return { ...m, previousAttempts: rest.length ? rest : undefined };
        });
        return changed ? { ...c, messages } : c;
      });
      return changed ? { ...state, conversations } : state;
    }

    case "resumed": {
      const next = updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        resuming: false,
        resumeAttempt: undefined,
        retryAt: undefined,
        resumes: (m.resumes ?? 0) + 1,
      }));
      return next === state ? state : { ...next, stats: { ...next.stats, resumes: next.stats.resumes + 1 } };
    }

    case "finish":
      return endStream(state, action.messageId, (m) => ({
        ...m,
        status: "done",
        retryAt: undefined,
        finishReason: action.finishReason,
        metrics: {
          ...action.client,
          serverTtfbMs: action.metrics?.timeToFirstByteMs,
          serverThinkingMs: action.metrics?.thinkingMs,
          serverTtftMs: action.metrics?.timeToFirstTokenMs,
          serverTokensPerSecond: action.metrics?.tokensPerSecond,
          outputTokens: action.usage?.outputTokens,
          reasoningTokens: action.usage?.reasoningTokens,
        },
      }));

    case "stop":
      return endStream(state, action.messageId, (m) => ({
        ...m,
        status: "stopped",
        retryAt: undefined,
        finishReason: "cancelled",
        metrics: action.client,
      }));

    case "fail": {
      const next = endStream(state, action.messageId, (m) => ({
        ...m,
        status: "failed",
        failure: action.failure,
        metrics: action.client,
        // When the server said how long to wait, the Retry button counts down to this time.
        retryAt: action.retryAt,
      }));
      return next === state ? state : { ...next, stats: { ...next.stats, failedReplies: next.stats.failedReplies + 1 } };
    }
  }
}

function withoutConversation(streaming: Record<string, string>, conversationId: string): Record<string, string> {
  const entries = Object.entries(streaming).filter(([, id]) => id !== conversationId);
  return entries.length === Object.keys(streaming).length ? streaming : Object.fromEntries(entries);
}

/** Applies `update` to a message being streamed; events for any other message are stale and ignored. */
function updateStreamingMessage(state: ChatState, messageId: string, update: (m: Message) => Message): ChatState {
  const conversationId = state.streaming[messageId];
  if (conversationId === undefined) return state;
  let changed = false;
  const apply = (c: Conversation) => {
    if (c.id !== conversationId) return c;
    const messages = c.messages.map((m) => {
      if (m.id !== messageId) return m;
      changed = true;
      return update(m);
    });
    return { ...c, messages };
  };
  const conversations = state.conversations.map(apply);
  if (changed) return { ...state, conversations };
  // A chat deleted while replying (Undo still possible) keeps receiving its reply.
  const deleted = state.deleted?.map(apply);
  return changed ? { ...state, deleted } : state;
}

function endStream(state: ChatState, messageId: string, update: (m: Message) => Message): ChatState {
  // A reply that ends before a restart produced new text keeps the old partial text.
  // Each caller's update sets retryAt itself (only a failure may keep a countdown).
  const next = updateStreamingMessage(state, messageId, (m) => ({
    ...update(m),
    restartPending: false,
    resuming: false,
    resumeAttempt: undefined,
    offline: undefined,
    followed: undefined,
    thinkingSince: undefined,
  }));
  if (next === state) return state;
  const streaming = { ...next.streaming };
  delete streaming[messageId];
  return { ...next, streaming };
}

export function activeConversation(state: ChatState): Conversation | undefined {
  return state.conversations.find((c) => c.id === state.activeId);
}
