/**
 * Conversation sync for signed-in users: the page's IndexedDB copy and the server's
 * (/api/conversations, docs/conversations.md) meet here. Saves are conditional: a save names the
 * version it started from (If-Match) or creates (If-None-Match: *); when another tab or device
 * saved first the server answers 412, and the two copies are merged (mergeConversations, a pure
 * function) and saved again on the newer version, so neither side's messages are lost.
 *
 * Anonymous callers (sign-in off, or not signed in) get a problem from the server; sync then turns
 * itself off and the page stays local-only.
 */

/**
 * An other version of a message (docs/web.md, "Conversation model"): the message's fields without
 * id/versions/versionIndex, plus `after`, the turns that followed it in that branch.
 */
export interface SyncVersion {
  role?: string;
  content?: string;
  createdAt?: number;
  after?: SyncMessage[];
  [key: string]: unknown;
}

export interface SyncMessage {
  id: string;
  createdAt: number;
  /** The other versions, oldest first; the shown one is at versionIndex of versions.length + 1. */
  versions?: SyncVersion[];
  versionIndex?: number;
  [key: string]: unknown;
}

export type TitleSource = "generated" | "user" | "fallback";

export interface SyncConversation {
  id: string;
  title: string;
  titleSource?: TitleSource;
  createdAt: number;
  updatedAt: number;
  messages: SyncMessage[];
  /**
   * Messages removed on purpose (an edit that drops the turns after it), id → when: kept so that a
   * copy that still has them does not bring them back in a merge.
   */
  removedMessages?: Record<string, number>;
  [key: string]: unknown;
}

/** What the server answers for a deleted conversation's id. */
export interface Tombstone {
  id: string;
  deleted: true;
  deletedAt: number;
  updatedAt: number;
}

export type StoredDocument = SyncConversation | Tombstone;

export function isTombstone(doc: StoredDocument): doc is Tombstone {
  return (doc as Tombstone).deleted === true;
}

const TITLE_RANK: Record<TitleSource, number> = { fallback: 0, generated: 1, user: 2 };

function titleRank(conversation: SyncConversation): number {
  return TITLE_RANK[conversation.titleSource ?? "fallback"] ?? 0;
}

/** Two versions are one when they were made at the same moment with the same text. */
function versionKey(version: { role?: unknown; createdAt?: unknown; content?: unknown }): string {
  return `${String(version.role)}|${String(version.createdAt)}|${String(version.content)}`;
}

/** The shown version of a message as an entry of `versions`, carrying the turns after it. */
function asVersion(message: SyncMessage, after: SyncMessage[]): SyncVersion {
  const { id: _id, versions: _versions, versionIndex: _index, ...fields } = message;
  return { ...fields, after };
}

/**
 * One message of both paths: the local copy's fields and shown version, the other versions the
 * union of both sides' (by role, createdAt and text), and, when the remote showed another version,
 * that version with the remote turns after it, so a regenerate or edit on either side is kept.
 */
function mergeMessage(local: SyncMessage, remote: SyncMessage, remoteAfter: SyncMessage[] | null): SyncMessage {
  if (!local.versions && !remote.versions && remoteAfter === null) return local;
  const shownKey = versionKey(local);
  const byKey = new Map<string, SyncVersion>();
  const candidates = [...(local.versions ?? []), ...(remote.versions ?? [])];
  if (remoteAfter !== null) candidates.push(asVersion(remote, remoteAfter));
  for (const version of candidates) {
    const key = versionKey(version);
    if (key !== shownKey && !byKey.has(key)) byKey.set(key, version);
  }
  const others = [...byKey.values()];
  // All versions oldest first; the shown one keeps its place by createdAt among them.
  const all = [...others.map((v) => ({ v, shown: false })), { v: local as SyncVersion, shown: true }].sort(
    (a, b) => (a.v.createdAt ?? 0) - (b.v.createdAt ?? 0),
  );
  const versionIndex = all.findIndex((entry) => entry.shown);
  const result: SyncMessage = { ...local, versions: all.filter((entry) => !entry.shown).map((entry) => entry.v), versionIndex };
  if (result.versions!.length === 0) {
    delete result.versions;
    delete result.versionIndex;
  }
  return result;
}

/**
 * The two paths merged: walked together while they hold the same message with the same shown
 * version; where one side showed another version of a message (a regenerate or an edit), the
 * remote branch becomes a version of the local message; where the two sides went on with
 * different messages (two tabs sent at once), both tails are kept, by createdAt.
 */
function mergePaths(local: SyncMessage[], remote: SyncMessage[]): SyncMessage[] {
  const result: SyncMessage[] = [];
  let i = 0;
  for (; i < local.length && i < remote.length; i++) {
    const l = local[i];
    const r = remote[i];
    if (l.id !== r.id) break;
    if (versionKey(l) !== versionKey(r)) {
      // Branched here: the local path goes on; the remote one is kept as a version.
      result.push(mergeMessage(l, r, remote.slice(i + 1)));
      return [...result, ...local.slice(i + 1)];
    }
    result.push(mergeMessage(l, r, null));
  }
  const tails = [...local.slice(i).map((m, order) => ({ m, order })), ...remote.slice(i).map((m, order) => ({ m, order: order + local.length }))];
  const seen = new Set(result.map((m) => m.id));
  for (const { m } of tails.sort((a, b) => a.m.createdAt - b.m.createdAt || a.order - b.order)) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    result.push(m);
  }
  return result;
}

/**
 * The union of two copies of one conversation, so edits from two tabs or devices are both kept:
 * - messages: one path (docs/web.md); both sides' new turns are kept (by createdAt, ties: local
 *   first); for one message the local copy's fields win, its other versions are the union of both
 *   sides', and a version the remote showed (a regenerate or edit there) joins them with its turns;
 * - removed messages: union of both sides' removals, and a removed id stays out;
 * - title: a user's rename beats a generated title, which beats the fallback; between two of the
 *   same kind, the copy changed last;
 * - a tombstone on either side wins: the conversation was deleted.
 * Pure: neither argument is changed.
 */
export function mergeConversations(local: StoredDocument, remote: StoredDocument): StoredDocument {
  if (isTombstone(remote)) return remote;
  if (isTombstone(local)) return local;

  const removedMessages: Record<string, number> = { ...(remote.removedMessages ?? {}) };
  for (const [id, at] of Object.entries(local.removedMessages ?? {})) {
    removedMessages[id] = Math.max(at, removedMessages[id] ?? 0);
  }

  const messages = mergePaths(local.messages, remote.messages).filter((m) => !(m.id in removedMessages));

  const localRank = titleRank(local);
  const remoteRank = titleRank(remote);
  const titleFrom =
    localRank !== remoteRank ? (localRank > remoteRank ? local : remote) : remote.updatedAt > local.updatedAt ? remote : local;

  const result: SyncConversation = {
    ...remote,
    ...local,
    title: titleFrom.title,
    titleSource: titleFrom.titleSource,
    createdAt: Math.min(local.createdAt, remote.createdAt),
    updatedAt: Math.max(local.updatedAt, remote.updatedAt),
    messages,
  };
  if (Object.keys(removedMessages).length > 0) result.removedMessages = removedMessages;
  else delete result.removedMessages;
  return result;
}

/** True when saving `merged` would change what `remote` holds (a merge that only took theirs needs no save). */
export function differs(merged: StoredDocument, remote: StoredDocument): boolean {
  return JSON.stringify(merged) !== JSON.stringify(remote);
}

/** The page's own copy, as sync needs it (IndexedDB in the page, a Map in tests). */
export interface LocalConversations {
  list(): Promise<SyncConversation[]>;
  get(id: string): Promise<SyncConversation | undefined>;
  /** Stores a merged copy that came from another tab or device. */
  put(conversation: SyncConversation): Promise<void>;
  /** Removes a conversation another device deleted. */
  remove(id: string): Promise<void>;
}

export interface SyncOptions {
  apiBaseUrl: string;
  /** fetch that carries the bearer token (authorizedFetch). */
  fetch: typeof fetch;
  local: LocalConversations;
  /** Saves that meet a newer version are merged and tried again this many times in all. */
  maxAttempts?: number;
  /** Backoff before the n-th retry (1-based), in ms; exponential with jitter by default. */
  backoff?: (attempt: number) => number;
  wait?: (ms: number) => Promise<void>;
  /** A local chat that pull could not save because it is too large (push throws ConversationTooLargeError instead). */
  onTooLarge?: (id: string) => void;
}

export type SyncState = "on" | "off";

/** The problem type the server uses when sync needs a signed-in user (docs/conversations.md). */
export const SIGN_IN_REQUIRED_TYPE = "urn:chatfunctions:problem:sync-needs-sign-in";

export class SyncDisabledError extends Error {
  constructor() {
    super("Conversation sync needs sign-in; this browser keeps its own copy.");
    this.name = "SyncDisabledError";
  }
}

/**
 * The server refused a save as larger than its CHAT_CONVERSATION_MAX_BYTES (413): the chat stays in
 * this browser, and the page says so (the limit is the server's setting, so only its answer tells).
 */
export class ConversationTooLargeError extends Error {
  constructor(readonly conversationId: string) {
    super("This chat is too large to sync; it is kept in this browser.");
    this.name = "ConversationTooLargeError";
  }
}

interface ListItem {
  id: string;
  title?: string;
  updatedAt: number;
  etag: string;
  deleted?: boolean;
}

const defaultBackoff = (attempt: number) => Math.min(4_000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
const defaultWait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ConversationSync {
  readonly state: SyncState;
  /** Pulls the list, fetches what changed, merges it into the local copy, and pushes local-only chats. */
  pull(): Promise<void>;
  /** Saves one conversation (after a completed reply or a rename), merging on conflict. */
  push(conversation: SyncConversation): Promise<void>;
  /** Deletes on the server (a tombstone stays there, so another device's copy does not come back). */
  remove(id: string): Promise<void>;
}

export function createConversationSync(options: SyncOptions): ConversationSync {
  const base = options.apiBaseUrl.replace(/\/+$/, "");
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = options.backoff ?? defaultBackoff;
  const wait = options.wait ?? defaultWait;
  const etags = new Map<string, string>();
  let state: SyncState = "on";

  const url = (id?: string) => `${base}/api/conversations${id ? `/${encodeURIComponent(id)}` : ""}`;

  async function check(response: Response): Promise<Response> {
    if (response.status === 401 || response.status === 403) {
      state = "off";
      throw new SyncDisabledError();
    }
    if (response.status === 404 && (response.headers.get("content-type") ?? "").includes("problem+json")) {
      const problem = (await response.clone().json().catch(() => ({}))) as { type?: string };
      if (problem.type === SIGN_IN_REQUIRED_TYPE) {
        state = "off";
        throw new SyncDisabledError();
      }
    }
    return response;
  }

  async function fetchOne(id: string): Promise<{ doc: StoredDocument; etag: string } | undefined> {
    const response = await check(await options.fetch(url(id), { headers: { Accept: "application/json" } }));
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`Reading conversation failed: HTTP ${response.status}`);
    const etag = response.headers.get("ETag") ?? "";
    return { doc: (await response.json()) as StoredDocument, etag };
  }

  /** PUT with the known version; undefined when another save came first (412). */
  async function save(doc: SyncConversation, etag: string | undefined): Promise<string | undefined> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (etag) headers["If-Match"] = etag;
    else headers["If-None-Match"] = "*";
    const response = await check(await options.fetch(url(doc.id), { method: "PUT", headers, body: JSON.stringify(doc) }));
    if (response.status === 412) return undefined;
    if (response.status === 413) throw new ConversationTooLargeError(doc.id);
    if (!response.ok) throw new Error(`Saving conversation failed: HTTP ${response.status}`);
    return response.headers.get("ETag") ?? ((await response.json()) as { etag: string }).etag;
  }

  async function push(conversation: SyncConversation): Promise<void> {
    if (state === "off") return;
    let doc: StoredDocument = conversation;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (isTombstone(doc)) {
        await options.local.remove(doc.id);
        return;
      }
      const etag = await save(doc, etags.get(doc.id));
      if (etag !== undefined) {
        etags.set(doc.id, etag);
        if (doc !== conversation) await options.local.put(doc);
        return;
      }
      if (attempt === maxAttempts) break;
      // Another tab or device saved first: take theirs, merge ours in, and save on their version.
      if (attempt > 1) await wait(backoff(attempt - 1));
      const server = await fetchOne(doc.id);
      if (server) etags.set(doc.id, server.etag);
      else etags.delete(doc.id);
      const current: StoredDocument = (await options.local.get(doc.id)) ?? doc;
      doc = server ? mergeConversations(current, server.doc) : current;
    }
    throw new Error("Saving the conversation kept meeting newer versions; it stays in this browser and syncs later.");
  }

  /** One chat too large to sync must not keep the others from syncing: it is reported and skipped. */
  async function pushOrReport(conversation: SyncConversation): Promise<void> {
    try {
      await push(conversation);
    } catch (error) {
      if (!(error instanceof ConversationTooLargeError)) throw error;
      options.onTooLarge?.(conversation.id);
    }
  }

  async function pull(): Promise<void> {
    if (state === "off") return;
    const items: ListItem[] = [];
    let next: string | null = null;
    do {
      const query: string = next ? `?continuation=${encodeURIComponent(next)}` : "";
      const response = await check(await options.fetch(url() + query, { headers: { Accept: "application/json" } }));
      if (!response.ok) throw new Error(`Listing conversations failed: HTTP ${response.status}`);
      const page = (await response.json()) as { items: ListItem[]; next?: string | null };
      items.push(...page.items);
      next = page.next ?? null;
    } while (next);

    const onServer = new Set(items.map((item) => item.id));
    for (const item of items) {
      const local = await options.local.get(item.id);
      if (item.deleted) {
        etags.set(item.id, item.etag);
        if (local) await options.local.remove(item.id);
        continue;
      }
      if (etags.get(item.id) === item.etag && local) continue;
      const server = await fetchOne(item.id);
      if (!server) continue;
      etags.set(item.id, server.etag);
      if (isTombstone(server.doc)) {
        if (local) await options.local.remove(item.id);
        continue;
      }
      const merged = local ? mergeConversations(local, server.doc) : server.doc;
      if (isTombstone(merged)) continue;
      await options.local.put(merged);
      if (differs(merged, server.doc)) await pushOrReport(merged);
    }
    for (const local of await options.local.list()) {
      if (!onServer.has(local.id)) await pushOrReport(local);
    }
  }

  async function remove(id: string): Promise<void> {
    if (state === "off") return;
    const response = await check(await options.fetch(url(id), { method: "DELETE" }));
    if (!response.ok) throw new Error(`Deleting conversation failed: HTTP ${response.status}`);
    etags.set(id, response.headers.get("ETag") ?? "");
  }

  return {
    get state() {
      return state;
    },
    pull,
    push,
    remove,
  };
}

/**
 * Pulls again when the tab comes back into view or the browser back online; returns the function
 * that stops listening. Errors are the caller's to report (onError); sync tries again next time.
 */
export function syncOnFocusAndOnline(sync: ConversationSync, target: Window, onError: (error: unknown) => void = () => {}): () => void {
  const run = () => {
    if (sync.state === "off" || target.document.visibilityState === "hidden") return;
    sync.pull().catch(onError);
  };
  target.addEventListener("focus", run);
  target.addEventListener("online", run);
  target.document.addEventListener("visibilitychange", run);
  return () => {
    target.removeEventListener("focus", run);
    target.removeEventListener("online", run);
    target.document.removeEventListener("visibilitychange", run);
  };
}
