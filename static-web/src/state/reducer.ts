import type { Failure } from "../api/chatClient";
import type { FinishReason, ServerMetrics, Usage } from "../api/protocol";
import type { ChatState, Conversation, Message, ReplyMetrics } from "./types";

export type ChatAction =
  | { type: "hydrate"; conversations: Conversation[]; activeId: string | null }
  | { type: "newChat" }
  | { type: "selectChat"; id: string }
  | { type: "deleteChat"; id: string }
  /** Undo of a delete: the conversation goes back where it was. */
  | { type: "restoreChat"; conversation: Conversation; index: number; wasActive: boolean }
  /** Edit after a refused request: the refused turn (question + failed reply) leaves the conversation. */
  | { type: "removeLastTurn"; conversationId: string; messageId: string }
  | { type: "send"; conversationId: string; userId: string; assistantId: string; text: string; now: number }
  | { type: "restartReply"; conversationId: string; messageId: string; now: number }
  | { type: "meta"; messageId: string; model: string }
  | { type: "thinking"; messageId: string; at: number }
  | { type: "appendText"; messageId: string; text: string }
  | { type: "reconnecting"; messageId: string; attempt: number; retryAt: number; reason: Failure }
  | { type: "resuming"; messageId: string; retryAt: number; reason: Failure }
  | { type: "resumed"; messageId: string }
  | { type: "finish"; messageId: string; finishReason: FinishReason; usage?: Usage; metrics?: ServerMetrics; client?: ReplyMetrics }
  | { type: "stop"; messageId: string; client?: ReplyMetrics }
  | { type: "fail"; messageId: string; failure: Failure; client?: ReplyMetrics; retryAt?: number };

export const initialState: ChatState = {
  conversations: [],
  activeId: null,
  streaming: {},
  hydrated: false,
  stats: { replies: 0, failedReplies: 0, reconnects: 0, resumes: 0 },
};

const TITLE_LENGTH = 60;

export function titleFrom(text: string): string {
  const line = text.trim().split(/\r?\n/, 1)[0].replace(/\s+/g, " ");
  return line.length > TITLE_LENGTH ? line.slice(0, TITLE_LENGTH - 1) + "…" : line || "New chat";
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
      const conversations = [...state.conversations, ...action.conversations.filter((c) => !present.has(c.id))];
      return { ...state, hydrated: true, conversations, activeId: state.activeId ?? action.activeId };
    }

    case "newChat":
      // The conversation itself is created by the first send, so empty chats never pile up.
      return { ...state, activeId: null };

    case "selectChat":
      return state.conversations.some((c) => c.id === action.id) ? { ...state, activeId: action.id } : state;

    case "deleteChat": {
      const conversations = state.conversations.filter((c) => c.id !== action.id);
      if (conversations.length === state.conversations.length) return state;
      return {
        ...state,
        conversations,
        activeId: state.activeId === action.id ? null : state.activeId,
        streaming: withoutConversation(state.streaming, action.id),
      };
    }

    case "restoreChat": {
      if (state.conversations.some((c) => c.id === action.conversation.id)) return state;
      const conversations = [...state.conversations];
      conversations.splice(Math.min(action.index, conversations.length), 0, action.conversation);
      return { ...state, conversations, activeId: action.wasActive ? action.conversation.id : state.activeId };
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
            title: titleFrom(action.text),
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
        // The old text stays on screen until the first new text replaces it (restartPending).
        content: last.content,
        createdAt: action.now,
        status: "streaming",
        reconnects: 0,
        restartPending: true,
      };
      const updated = { ...conversation, messages: [...conversation.messages.slice(0, -1), restarted], updatedAt: action.now };
      return {
        ...state,
        conversations: [updated, ...state.conversations.filter((c) => c.id !== conversation.id)],
        streaming: { ...state.streaming, [last.id]: conversation.id },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "meta":
      return updateStreamingMessage(state, action.messageId, (m) => ({ ...m, model: action.model || m.model }));

    case "thinking":
      // A resumed stream replays its thinking frame: the think began at the first one.
      return updateStreamingMessage(state, action.messageId, (m) => ({ ...m, thinkingSince: m.thinkingSince ?? action.at }));

    case "appendText":
      if (action.text === "") return state;
      return updateStreamingMessage(state, action.messageId, (m) =>
        m.restartPending
          ? { ...m, content: action.text, restartPending: false, retryAt: undefined }
          : { ...m, content: m.content + action.text },
      );

    case "reconnecting": {
      const next = updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        reconnects: action.attempt,
        restartPending: true,
        // A new request: the model has not accepted it yet.
        thinkingSince: undefined,
        resuming: false,
        retryAt: action.retryAt,
        reconnectReason: action.reason,
      }));
      return next === state ? state : { ...next, stats: { ...next.stats, reconnects: next.stats.reconnects + 1 } };
    }

    case "resuming":
      // The text stays as it is: the same reply continues after the drop.
      return updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        resuming: true,
        retryAt: action.retryAt,
        reconnectReason: action.reason,
      }));

    case "resumed": {
      const next = updateStreamingMessage(state, action.messageId, (m) => ({
        ...m,
        resuming: false,
        retryAt: undefined,
        resumes: (m.resumes ?? 0) + 1,
      }));
      return next === state ? state : { ...next, stats: { ...next.stats, resumes: next.stats.resumes + 1 } };
    }

    case "finish":
      return endStream(state, action.messageId, (m) => ({
        ...m,
        // A restart that completed without any text really produced an empty reply.
        content: m.restartPending ? "" : m.content,
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
  const conversations = state.conversations.map((c) => {
    if (c.id !== conversationId) return c;
    const messages = c.messages.map((m) => {
      if (m.id !== messageId) return m;
      changed = true;
      return update(m);
    });
    return { ...c, messages };
  });
  return changed ? { ...state, conversations } : state;
}

function endStream(state: ChatState, messageId: string, update: (m: Message) => Message): ChatState {
  // A reply that ends before a restart produced new text keeps the old partial text.
  // Each caller's update sets retryAt itself (only a failure may keep a countdown).
  const next = updateStreamingMessage(state, messageId, (m) => ({ ...update(m), restartPending: false, resuming: false, thinkingSince: undefined }));
  if (next === state) return state;
  const streaming = { ...next.streaming };
  delete streaming[messageId];
  return { ...next, streaming };
}

export function activeConversation(state: ChatState): Conversation | undefined {
  return state.conversations.find((c) => c.id === state.activeId);
}
