import type { Conversation, Message } from "../state/types";

/**
 * Shared links (docs/conversations.md, "Shared links"): a signed-in user shares a snapshot of a chat (its title and the
 * messages as shown: role and text, no reasoning, no other versions), anyone with the link reads it without signing in.
 */

/** One message of a snapshot. */
export interface SharedMessage {
  role: "user" | "assistant";
  content: string;
}

/** What `GET /api/shares/{id}` answers. */
export interface Snapshot {
  id: string;
  title: string | null;
  createdAt: number;
  messages: SharedMessage[];
}

/** One of the signed-in user's shares. */
export interface Share {
  id: string;
  conversationId: string;
  title: string | null;
  createdAt: number;
  /** Relative to the page: `/?share=<id>`. */
  link: string;
}

/** The query parameter that opens a shared chat. */
export const SHARE_PARAM = "share";
/** 128 random bits, base64url (the server's ShareId). */
const SHARE_ID = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export function isShareId(value: string | null | undefined): value is string {
  return typeof value === "string" && SHARE_ID.test(value);
}

/** The share id in the page's address, or null when the address opens the chat page. */
export function shareIdFrom(search: string): string | null {
  return new URLSearchParams(search).get(SHARE_PARAM);
}

export function sharesUrl(apiBaseUrl: string): string {
  return `${apiBaseUrl}/api/shares`;
}

export function shareUrl(apiBaseUrl: string, id: string): string {
  return `${apiBaseUrl}/api/shares/${encodeURIComponent(id)}`;
}

/** The absolute link to give out: the page's own origin with `?share=<id>`. */
export function absoluteLink(share: Pick<Share, "link">, origin: string): string {
  return new URL(share.link, origin).href;
}

/** Only the final text shown: the versions not shown, replies still streaming or without text, and reasoning stay out. */
export function snapshotOf(conversation: Conversation): { conversationId: string; title: string; messages: SharedMessage[] } {
  const shown = (m: Message) => m.content.trim() !== "" && m.status !== "streaming" && (m.role === "user" || m.role === "assistant");
  return {
    conversationId: conversation.id,
    title: conversation.title.slice(0, 200),
    messages: conversation.messages.filter(shown).map((m) => ({ role: m.role as SharedMessage["role"], content: m.content })),
  };
}

/** A failed share request, in words the user can act on. */
export class ShareError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ShareError";
  }
}

async function problemDetail(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { detail?: unknown } | null;
    return typeof body?.detail === "string" ? body.detail : undefined;
  } catch {
    return undefined;
  }
}

async function send(fetchImpl: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchImpl(url, init);
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    throw new ShareError("The server cannot be reached. Check your connection and try again.");
  }
}

async function fail(response: Response, fallback: string): Promise<never> {
  throw new ShareError((await problemDetail(response)) ?? fallback, response.status);
}

export async function createShare(apiBaseUrl: string, fetchImpl: typeof fetch, conversation: Conversation, signal?: AbortSignal): Promise<Share> {
  const response = await send(fetchImpl, sharesUrl(apiBaseUrl), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(snapshotOf(conversation)),
    signal,
  });
  if (response.status !== 201) return fail(response, `The link could not be created (${response.status}).`);
  return (await response.json()) as Share;
}

export async function listShares(apiBaseUrl: string, fetchImpl: typeof fetch, signal?: AbortSignal): Promise<Share[]> {
  const response = await send(fetchImpl, sharesUrl(apiBaseUrl), { headers: { Accept: "application/json" }, signal });
  if (response.status !== 200) return fail(response, `Your shared links could not be read (${response.status}).`);
  const body = (await response.json()) as { items?: Share[] } | null;
  return Array.isArray(body?.items) ? body.items : [];
}

/** Stops sharing; a link already gone (404) counts as stopped. */
export async function revokeShare(apiBaseUrl: string, fetchImpl: typeof fetch, id: string, signal?: AbortSignal): Promise<void> {
  const response = await send(fetchImpl, shareUrl(apiBaseUrl, id), { method: "DELETE", signal });
  if (response.status !== 204 && response.status !== 404) return fail(response, `Sharing could not be stopped (${response.status}).`);
}

export type ReadResult =
  | { kind: "ok"; snapshot: Snapshot }
  /** Unknown, revoked or malformed: nothing to show at this link. */
  | { kind: "gone" }
  /** The server could not be reached, or failed: trying again may work. */
  | { kind: "unavailable"; message: string };

/** Reads a shared chat without any sign-in (no Authorization header, ever). */
export async function readShare(apiBaseUrl: string, id: string, fetchImpl: typeof fetch = fetch, signal?: AbortSignal): Promise<ReadResult> {
  if (!isShareId(id)) return { kind: "gone" };
  let response: Response;
  try {
    response = await fetchImpl(shareUrl(apiBaseUrl, id), { headers: { Accept: "application/json" }, credentials: "omit", signal });
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    return { kind: "unavailable", message: "The shared chat could not be loaded: the server cannot be reached. Check your connection and try again." };
  }
  if (response.status === 404 || response.status === 400) return { kind: "gone" };
  if (response.status !== 200) {
    return { kind: "unavailable", message: (await problemDetail(response)) ?? `The shared chat could not be loaded (${response.status}). Try again shortly.` };
  }
  const body = (await response.json().catch(() => null)) as Snapshot | null;
  if (!body || !Array.isArray(body.messages)) return { kind: "unavailable", message: "The server's answer was not a shared chat." };
  const messages = body.messages.filter(
    (m): m is SharedMessage => (m?.role === "user" || m?.role === "assistant") && typeof m.content === "string",
  );
  return { kind: "ok", snapshot: { id, title: typeof body.title === "string" ? body.title : null, createdAt: Number(body.createdAt) || 0, messages } };
}

const newId = () =>
  typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

/** "Continue this chat": the snapshot as a new chat of this browser (new ids; the shared link is not touched). */
export function importSnapshot(snapshot: Snapshot, now = Date.now(), makeId: () => string = newId): Conversation {
  const messages: Message[] = snapshot.messages.map((m, i) => ({
    id: makeId(),
    role: m.role,
    content: m.content,
    // Kept in their order, a millisecond apart, ending now.
    createdAt: now - (snapshot.messages.length - i),
    ...(m.role === "assistant" ? { status: "done" as const, finishReason: "stop" as const } : {}),
  }));
  return {
    id: makeId(),
    title: snapshot.title?.trim() || "Shared chat",
    titleSource: "user",
    messages,
    createdAt: now,
    updatedAt: now,
  };
}
