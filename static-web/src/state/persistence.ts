import type { Conversation, Message } from "./types";

/** Versioned key: a future shape change can migrate or ignore old data instead of crashing on it. */
export const STORAGE_KEY = "chatfunctions.conversations.v1";

interface Stored {
  conversations: Conversation[];
  activeId: string | null;
}

const INTERRUPTED = {
  kind: "network",
  message: "Interrupted: the page was closed or reloaded while the reply was streaming.",
  retryable: true,
} as const;

export function loadConversations(storage: Storage | undefined = safeLocalStorage()): Stored {
  const empty: Stored = { conversations: [], activeId: null };
  if (!storage) return empty;
  try {
    const raw = storage.getItem(STORAGE_KEY);
    if (!raw) return empty;
    const parsed = JSON.parse(raw) as Partial<Stored>;
    if (!Array.isArray(parsed.conversations)) return empty;
    const conversations = parsed.conversations.filter(isConversation).map(reviveConversation);
    const activeId = conversations.some((c) => c.id === parsed.activeId) ? (parsed.activeId as string) : null;
    return { conversations, activeId };
  } catch {
    return empty;
  }
}

export function saveConversations(data: Stored, storage: Storage | undefined = safeLocalStorage()): boolean {
  if (!storage) return false;
  let conversations = data.conversations;
  // On quota errors drop the oldest conversations rather than losing everything.
  while (true) {
    try {
      storage.setItem(STORAGE_KEY, JSON.stringify({ conversations, activeId: data.activeId }));
      return true;
    } catch {
      if (conversations.length <= 1) return false;
      conversations = conversations.slice(0, -1);
    }
  }
}

/** A reply that was streaming when the page went away can never finish: mark it interrupted. */
function reviveConversation(c: Conversation): Conversation {
  if (!c.messages.some((m) => m.status === "streaming")) return c;
  return {
    ...c,
    messages: c.messages.map((m): Message =>
      m.status === "streaming"
        ? { ...m, status: "failed", failure: { ...INTERRUPTED }, restartPending: false, retryAt: undefined }
        : m,
    ),
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
