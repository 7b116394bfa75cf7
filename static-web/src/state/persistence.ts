import { openDB, type IDBPDatabase } from "idb";
import type { Conversation, Message, SessionStats } from "./types";

/**
 * Conversations live in IndexedDB (one record per conversation, so a save writes only the chats
 * that changed, and the quota is the origin's, not localStorage's ~5 MB). Versions before this kept
 * them in localStorage under LEGACY_KEY: they are moved over once, and the old key is removed only
 * after IndexedDB has them. Nothing is ever dropped to make room: a full store is reported
 * (StorageFullError) and the user decides what to delete.
 */

export const LEGACY_KEY = "chatfunctions.conversations.v1";
/**
 * The text of replies streaming when the page was hidden or left, written synchronously: an IndexedDB
 * write started in `pagehide` is not committed before the page goes (measured in Chromium: a reload
 * lost the last second of text), localStorage is.
 */
export const UNSAVED_KEY = "chatfunctions.streaming-tail.v1";

/** One streaming reply as it was on screen: its text and the stream position that text ends at. */
export interface UnsavedReply {
  conversationId: string;
  messageId: string;
  content: string;
  stream: { streamId: string; lastEventId: string };
}
const DB_NAME = "chatfunctions";
const CONVERSATIONS = "conversations";
const SETTINGS = "settings";

export interface Stored {
  conversations: Conversation[];
  activeId: string | null;
  /** The statistics panel's counts (absent when nothing was counted yet). */
  stats?: SessionStats;
}

const STAT_KEYS = ["replies", "failedReplies", "reconnects", "resumes", "retries"] as const;

export class StorageFullError extends Error {
  constructor(cause?: unknown) {
    super("Browser storage is full.", { cause });
    this.name = "StorageFullError";
  }
}

export interface ConversationStore {
  /**
   * Most recently updated first. A reply that was streaming when the page went away stays streaming
   * (marked resuming) when it knows its stream, so it can be resumed; without one it is marked interrupted.
   */
  load(): Promise<Stored>;
  /** One conversation as stored now (revived like load), e.g. after another tab finished with it. */
  get(id: string): Promise<Conversation | undefined>;
  /**
   * Removes the given ids, then writes the given conversations and adds `stats` to the stored counts
   * (one transaction, all or nothing; adding, not overwriting, so tabs do not erase each other's counts).
   */
  save(changes: { put: Conversation[]; remove: string[]; activeId: string | null; stats?: SessionStats }): Promise<void>;
}

const INTERRUPTED = {
  kind: "network",
  message: "Interrupted: the page was closed or reloaded while the reply was streaming.",
  retryable: true,
} as const;

export async function openConversationStore(legacy: Storage | undefined = safeLocalStorage()): Promise<ConversationStore> {
  const db: IDBPDatabase = await openDB(DB_NAME, 1, {
    upgrade(database) {
      database.createObjectStore(CONVERSATIONS, { keyPath: "id" });
      database.createObjectStore(SETTINGS);
    },
  });

  const save: ConversationStore["save"] = async ({ put, remove, activeId, stats }) => {
    try {
      // Deletions commit on their own first: when storage is full they are what makes room,
      // and they must not be rolled back with a write that still does not fit.
      if (remove.length > 0) {
        const tx = db.transaction(CONVERSATIONS, "readwrite");
        for (const id of remove) void tx.store.delete(id);
        await tx.done;
      }
      const tx = db.transaction([CONVERSATIONS, SETTINGS], "readwrite");
      const conversations = tx.objectStore(CONVERSATIONS);
      for (const c of put) void conversations.put(c);
      const settings = tx.objectStore(SETTINGS);
      void settings.put(activeId, "activeId");
      if (stats && STAT_KEYS.some((k) => stats[k] !== 0)) {
        const stored = readStats(await settings.get("stats"));
        const sum = Object.fromEntries(STAT_KEYS.map((k) => [k, (stored?.[k] ?? 0) + stats[k]])) as unknown as SessionStats;
        void settings.put(sum, "stats");
      }
      await tx.done;
    } catch (error) {
      throw isQuotaError(error) ? new StorageFullError(error) : error;
    }
  };

  const withUnsaved = (c: Conversation): Conversation => {
    const tails = readUnsaved(legacy).filter((t) => t.conversationId === c.id);
    return tails.length ? applyUnsaved(c, tails) : c;
  };

  return {
    save,
    async get(id) {
      const record = (await db.get(CONVERSATIONS, id)) as unknown;
      return isConversation(record) ? reviveConversation(withUnsaved(record)) : undefined;
    },
    async load() {
      const migrated = await migrateLegacy(legacy, save);
      const records = (await db.getAll(CONVERSATIONS)) as unknown[];
      const byId = new Map(records.filter(isConversation).map((c) => [c.id, reviveConversation(withUnsaved(c))]));
      // When IndexedDB is full, the legacy data stays in localStorage and is used from there.
      for (const c of migrated?.conversations ?? []) if (!byId.has(c.id)) byId.set(c.id, c);
      const conversations = [...byId.values()].sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0));
      const storedActive = (await db.get(SETTINGS, "activeId")) as unknown;
      const wanted = typeof storedActive === "string" ? storedActive : migrated?.activeId;
      const activeId = conversations.some((c) => c.id === wanted) ? (wanted as string) : null;
      return { conversations, activeId, stats: readStats(await db.get(SETTINGS, "stats")) };
    },
  };
}

/** Moves localStorage conversations into IndexedDB once; returns them when they could not be moved. */
async function migrateLegacy(legacy: Storage | undefined, save: ConversationStore["save"]): Promise<Stored | undefined> {
  const data = readLegacy(legacy);
  if (!data) return undefined;
  try {
    await save({ put: data.conversations, remove: [], activeId: data.activeId });
    legacy!.removeItem(LEGACY_KEY);
    return undefined;
  } catch {
    return data;
  }
}

export function readLegacy(storage: Storage | undefined): Stored | undefined {
  if (!storage) return undefined;
  try {
    const raw = storage.getItem(LEGACY_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<Stored>;
    if (!Array.isArray(parsed.conversations)) return undefined;
    const conversations = parsed.conversations.filter(isConversation).map(reviveConversation);
    const activeId = conversations.some((c) => c.id === parsed.activeId) ? (parsed.activeId as string) : null;
    return { conversations, activeId };
  } catch {
    return undefined;
  }
}

function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === "QuotaExceededError" || name === "NS_ERROR_DOM_QUOTA_REACHED";
}

const seq = (lastEventId: string) => Number(lastEventId.slice(lastEventId.lastIndexOf(":") + 1)) || 0;

/** Puts back text shown after the last save: only into the same stream, and only when it goes further. */
export function applyUnsaved(c: Conversation, tails: UnsavedReply[]): Conversation {
  let changed = false;
  const messages = c.messages.map((m) => {
    const tail = tails.find((t) => t.messageId === m.id);
    if (!tail || m.status !== "streaming") return m;
    if (m.stream && (m.stream.streamId !== tail.stream.streamId || seq(m.stream.lastEventId) >= seq(tail.stream.lastEventId))) return m;
    changed = true;
    return { ...m, content: tail.content, stream: { ...tail.stream } };
  });
  return changed ? { ...c, messages } : c;
}

/** Records the replies streaming now, as shown (synchronously; replaces what was recorded before). */
export function writeUnsaved(storage: Storage | undefined = safeLocalStorage(), tails: UnsavedReply[]): void {
  try {
    if (tails.length === 0) storage?.removeItem(UNSAVED_KEY);
    else storage?.setItem(UNSAVED_KEY, JSON.stringify(tails));
  } catch {
    // Full or disabled: the last IndexedDB save is what a reload will show.
  }
}

function readUnsaved(storage: Storage | undefined): UnsavedReply[] {
  try {
    const parsed = JSON.parse(storage?.getItem(UNSAVED_KEY) ?? "[]") as unknown;
    return Array.isArray(parsed)
      ? parsed.filter(
          (t): t is UnsavedReply =>
            typeof t?.conversationId === "string" &&
            typeof t.messageId === "string" &&
            typeof t.content === "string" &&
            typeof t.stream?.streamId === "string" &&
            typeof t.stream.lastEventId === "string",
        )
      : [];
  } catch {
    return [];
  }
}

function readStats(value: unknown): SessionStats | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  return Object.fromEntries(STAT_KEYS.map((k) => [k, typeof v[k] === "number" && Number.isFinite(v[k]) ? v[k] : 0])) as unknown as SessionStats;
}

/**
 * A reply that was streaming when the page went away: with its stream known it is resumed where the
 * kept text ends (the server keeps producing it for its grace window); without one it cannot be
 * found again and is marked interrupted, its text kept.
 */
export function reviveConversation(c: Conversation): Conversation {
  if (!c.messages.some((m) => m.status === "streaming")) return c;
  return {
    ...c,
    messages: c.messages.map((m): Message => {
      if (m.status !== "streaming") return m;
      const transient = { restartPending: false, retryAt: undefined, offline: undefined, followed: undefined, reconnectReason: undefined };
      return m.stream?.streamId && m.stream.lastEventId
        ? { ...m, ...transient, resuming: true }
        : { ...m, ...transient, resuming: false, status: "failed", failure: { ...INTERRUPTED } };
    }),
  };
}

function isConversation(value: unknown): value is Conversation {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Conversation;
  return (
    typeof c.id === "string" &&
    typeof c.title === "string" &&
    Array.isArray(c.messages) &&
    c.messages.every(
      (m) => typeof m?.id === "string" && (m.role === "user" || m.role === "assistant") && typeof m.content === "string",
    )
  );
}

function safeLocalStorage(): Storage | undefined {
  try {
    return typeof localStorage === "undefined" ? undefined : localStorage;
  } catch {
    return undefined; // e.g. storage disabled by the browser
  }
}

/** Approximate stored size of a conversation (UTF-16 characters × 2), to help the user choose what to delete. */
export function approximateBytes(c: Conversation): number {
  return JSON.stringify(c).length * 2;
}
