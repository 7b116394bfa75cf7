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
  /**
   * First → last text of the attempt that produced the reply, in this browser (ms), and the chunks
   * received in that span. Left out when that attempt was resumed after a drop or a reload: its span
   * would include the time without a connection, so the rate shown is the server's.
   */
  clientStreamMs?: number;
  chunks?: number;
  outputTokens?: number;
  /** Of outputTokens, those the model spent thinking. */
  reasoningTokens?: number;
}

/** Where the text on screen came from: the stream and the id of the last frame whose text is in `content`. */
export interface StreamPosition {
  streamId: string;
  /** `<streamId>:<seq>`; resuming with it as Last-Event-ID continues right after the text kept. */
  lastEventId: string;
}

/** Text of an earlier attempt at the same turn, kept on screen when the turn had to be asked again. */
export interface PreviousAttempt {
  content: string;
  /** Why it ended, in the user's words ("Server error: …", "The server no longer had this reply."). */
  reason: string;
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
  /** Automatic re-asks of the turn used for this reply (the retry budget shown while retrying). */
  reconnects?: number;
  /** The stream this reply's text comes from, so a reload or another tab resumes it (kept with the chat). */
  stream?: StreamPosition;
  /** Earlier attempts whose text had been on screen; each stays until the user dismisses it. */
  previousAttempts?: PreviousAttempt[];
  /** Set while another tab of this browser owns the reply: this tab follows it and does not save it. */
  followed?: boolean;
  /** Set while the browser is offline and the reply waits for the connection to come back. */
  offline?: boolean;
  /** Times this reply continued on a new connection after a drop (same stream, nothing re-asked). */
  resumes?: number;
  /** Set while waiting to resume a dropped connection: the text stays and continues. */
  resuming?: boolean;
  /** Which automatic resume of the resume budget (MAX_RESUMES) is next; absent after a reload. */
  resumeAttempt?: number;
  /** Set while the turn is being asked again (the previous text is kept in previousAttempts). */
  restartPending?: boolean;
  /** While reconnecting: when the next attempt starts (epoch ms), for the countdown. */
  retryAt?: number;
  /** Last failure seen while reconnecting (shown as the reason). */
  reconnectReason?: Failure;
  metrics?: ReplyMetrics;
  model?: string;
  /** The model's reasoning summary (CHAT_API=responses), shown apart from the reply and never sent back as history. */
  reasoning?: string;
  /** While streaming: when the model was seen to start thinking (epoch ms), for "Thinking… 4 s". */
  thinkingSince?: number;
  /**
   * The other versions of this message (an earlier text of an edited question, an earlier reply before a
   * Regenerate), oldest first, each with the turns that followed it then. The message itself is the version
   * shown, at position `versionIndex` among `versions.length + 1`; switching swaps it with one of these.
   */
  versions?: MessageVersion[];
  /** Position of the shown version (0-based) among all versions; absent with no other versions. */
  versionIndex?: number;
}

/** A message as it was in another version: its fields (no id: the versions share it) and the turns after it. */
export interface MessageVersion extends Omit<Message, "id" | "versions" | "versionIndex"> {
  after: Message[];
}

/** Where a title comes from: the model (title endpoint), the user (rename, never overwritten) or the first message. */
export type TitleSource = "generated" | "user" | "fallback";

export interface Conversation {
  id: string;
  title: string;
  titleSource: TitleSource;
  messages: Message[];
  createdAt: number;
  updatedAt: number;
}

/** Kept in IndexedDB with the chats, so it survives reloads; tabs add to the same counts. */
export interface SessionStats {
  /** Replies requested (sends, regenerates, retries). */
  replies: number;
  /** Of those, replies that ended failed. */
  failedReplies: number;
  /** New connections opened because the network dropped (resumes and re-asks after a drop). */
  reconnects: number;
  /** Replies continued on a new connection without re-asking (after a drop or a reload). */
  resumes: number;
  /** Turns asked again automatically after a server error or a lost stream. */
  retries: number;
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
  /** Chats deleted while a reply streamed, kept (not saved) until Undo brings them back or the Undo window ends. */
  deleted?: Conversation[];
}
