import type { Failure } from "../api/chatClient";
import type { FinishReason, Role } from "../api/protocol";

export type ReplyStatus =
  | "streaming" // waiting for or receiving tokens (also while reconnecting)
  | "done" // `done` frame received (finishReason may still be length/content_filter)
  | "stopped" // the user pressed Stop
  | "failed"; // gave up: the failure says why

export interface ReplyMetrics {
  /** Server-measured (done.metrics): shown in the detail only; they leave out the network and any reconnect. */
  serverTtftMs?: number;
  /** Server-measured split of that wait: until the model accepted the request, then the model thinking. */
  serverTtfbMs?: number;
  serverThinkingMs?: number;
  serverTokensPerSecond?: number;
  /** What the user experienced: Send (or Regenerate/Retry) → first text on screen, in this browser. */
  clientTtftMs?: number;
  /** First → last text in this browser (ms), and the chunks received in that span. */
  clientStreamMs?: number;
  chunks?: number;
  outputTokens?: number;
  /** Of outputTokens, those the model spent thinking. */
  reasoningTokens?: number;
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
  /** Automatic restarts (the turn re-asked) used for this reply. */
  reconnects?: number;
  /** Times this reply continued on a new connection after a drop (same stream, nothing re-asked). */
  resumes?: number;
  /** Set while waiting to resume a dropped connection: the text stays and continues. */
  resuming?: boolean;
  /** Set while reconnecting: the partial text stays visible until the new attempt's first text replaces it. */
  restartPending?: boolean;
  /** While reconnecting: when the next attempt starts (epoch ms), for the countdown. */
  retryAt?: number;
  /** Last failure seen while reconnecting (shown as the reason). */
  reconnectReason?: Failure;
  metrics?: ReplyMetrics;
  model?: string;
  /** While streaming: when the model was seen to start thinking (epoch ms), for "Thinking… 4 s". */
  thinkingSince?: number;
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
  /** Automatic restarts (the turn re-asked). */
  reconnects: number;
  /** Dropped connections resumed without re-asking. */
  resumes: number;
}

export interface ChatState {
  /** Most recently updated first. */
  conversations: Conversation[];
  activeId: string | null;
  /** Replies being streamed: message id → conversation id. Each conversation streams at most one. */
  streaming: Record<string, string>;
  /** False until the stored conversations have been read (nothing is saved before that). */
  hydrated: boolean;
  stats: SessionStats;
}
