import type { Failure } from "../api/chatClient";
import type { FinishReason, ServerMetrics, Usage } from "../api/protocol";
import type { ChatState, Conversation, Message, ReplyMetrics } from "./types";

export type ChatAction =
  | { type: "hydrate"; conversations: Conversation[]; activeId: string | null }
  | { type: "newChat" }
  | { type: "selectChat"; id: string }
  | { type: "deleteChat"; id: string }
  | { type: "send"; conversationId: string; userId: string; assistantId: string; text: string; now: number }
  | { type: "restartReply"; conversationId: string; messageId: string; now: number }
  | { type: "meta"; messageId: string; model: string }
  | { type: "appendText"; messageId: string; text: string }
  | { type: "reconnecting"; messageId: string; attempt: number; retryAt: number; reason: Failure }
  | { type: "finish"; messageId: string; finishReason: FinishReason; usage?: Usage; metrics?: ServerMetrics; client?: ReplyMetrics }
  | { type: "stop"; messageId: string; client?: ReplyMetrics }
  | { type: "fail"; messageId: string; failure: Failure; client?: ReplyMetrics; retryAt?: number };

export const initialState: ChatState = {
  conversations: [],
  activeId: null,
  streaming: null,
  stats: { replies: 0, failedReplies: 0, reconnects: 0 },
};

const TITLE_LENGTH = 60;

export function titleFrom(text: string): string {
  const line = text.trim().split(/\r?\n/, 1)[0].replace(/\s+/g, " ");
  return line.length > TITLE_LENGTH ? line.slice(0, TITLE_LENGTH - 1) + "…" : line || "New chat";
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "hydrate":
      return { ...state, conversations: action.conversations, activeId: action.activeId };

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
        streaming: state.streaming?.conversationId === action.id ? null : state.streaming,
      };
    }

    case "send": {
      if (state.streaming) return state;
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
        streaming: { conversationId: action.conversationId, messageId: action.assistantId },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "restartReply": {
      // Regenerate / Retry: only the last message of a conversation, and only when idle.
      if (state.streaming) return state;
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
        streaming: { conversationId: conversation.id, messageId: last.id },
        stats: { ...state.stats, replies: state.stats.replies + 1 },
      };
    }

    case "meta":
      return updateStreamingMessage(state, action.messageId, (m) => ({ ...m, model: action.model || m.model }));

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
        retryAt: action.retryAt,
        reconnectReason: action.reason,
      }));
      return next === state ? state : { ...next, stats: { ...next.stats, reconnects: next.stats.reconnects + 1 } };
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
          serverTtftMs: action.metrics?.timeToFirstTokenMs,
          serverTokensPerSecond: action.metrics?.tokensPerSecond,
          outputTokens: action.usage?.outputTokens,
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

/** Applies `update` to the message being streamed; events for any other message are stale and ignored. */
function updateStreamingMessage(state: ChatState, messageId: string, update: (m: Message) => Message): ChatState {
  const streaming = state.streaming;
  if (!streaming || streaming.messageId !== messageId) return state;
  let changed = false;
  const conversations = state.conversations.map((c) => {
    if (c.id !== streaming.conversationId) return c;
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
  const next = updateStreamingMessage(state, messageId, (m) => ({ ...update(m), restartPending: false }));
  return next === state ? state : { ...next, streaming: null };
}

export function activeConversation(state: ChatState): Conversation | undefined {
  return state.conversations.find((c) => c.id === state.activeId);
}
