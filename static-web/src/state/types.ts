import type { Failure } from "../api/chatClient";
import type { FinishReason, Role } from "../api/protocol";

export type ReplyStatus =
  | "streaming" // waiting for or receiving tokens (also while reconnecting)
  | "done" // `done` frame received (finishReason may still be length/content_filter)
  | "stopped" // the user pressed Stop
  | "failed"; // gave up: the failure says why

export interface ReplyMetrics {
  /** Server-measured (done.metrics), preferred when present. */
  serverTtftMs?: number;
  serverTokensPerSecond?: number;
  /** Client-measured: request sent → first chunk rendered, and chunks per second after that. */
  clientTtftMs?: number;
  clientTokensPerSecond?: number;
  outputTokens?: number;
}

export interface Message {
  id: string;
  role: Role;
  content: string;
  createdAt: number;
  // Assistant replies only:
  status?: ReplyStatus;
  finishReason?: FinishReason;
  failure?: Failure;
  /** Automatic reconnects used for this reply. */
  reconnects?: number;
  /** Set while reconnecting: the partial text stays visible until the new attempt's first text replaces it. */
  restartPending?: boolean;
  /** While reconnecting: when the next attempt starts (epoch ms), for the countdown. */
  retryAt?: number;
  /** Last failure seen while reconnecting (shown as the reason). */
  reconnectReason?: Failure;
  metrics?: ReplyMetrics;
  model?: string;
}

export interface Conversation {
  id: string;
  title: string;
  messages: Message[];
  createdAt: number;
  updatedAt: number;
}

export interface SessionStats {
  /** Replies requested in this page session (sends, regenerates, retries). */
  replies: number;
  /** Of those, replies that ended failed. */
  failedReplies: number;
  /** Automatic reconnect attempts. */
  reconnects: number;
}

export interface ChatState {
  /** Most recently updated first. */
  conversations: Conversation[];
  activeId: string | null;
  /** The reply being streamed, if any (one at a time). */
  streaming: { conversationId: string; messageId: string } | null;
  stats: SessionStats;
}
