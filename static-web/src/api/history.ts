import type { HistoryItem, Role } from "./protocol";

/** The backend's default limits (ChatServiceOptions); the server rejects anything larger with 400. */
export const LIMITS = {
  maxMessageChars: 8_000,
  maxHistoryItems: 50,
  maxHistoryChars: 64_000,
} as const;

export interface TranscriptEntry {
  role: Role | string;
  content: string;
}

/**
 * Builds the `history` for the next request: only user/assistant turns with text (never `system`;
 * the server owns the system prompt), newest kept, oldest dropped until both the item count and the
 * total character count fit. A single turn larger than the whole budget is cut from its start,
 * keeping its end, which is what the next reply most likely refers to.
 */
export function buildHistory(transcript: readonly TranscriptEntry[], limits = LIMITS): HistoryItem[] {
  const eligible: HistoryItem[] = [];
  for (const entry of transcript) {
    if ((entry.role === "user" || entry.role === "assistant") && entry.content.trim() !== "") {
      eligible.push({ role: entry.role, content: entry.content });
    }
  }

  const kept: HistoryItem[] = [];
  let chars = 0;
  for (let i = eligible.length - 1; i >= 0 && kept.length < limits.maxHistoryItems; i--) {
    const item = eligible[i];
    const room = limits.maxHistoryChars - chars;
    if (item.content.length <= room) {
      kept.push(item);
      chars += item.content.length;
      continue;
    }
    // Only the newest turn is worth cutting; an older one that does not fit ends the history.
    if (kept.length === 0 && room > 0) {
      kept.push({ role: item.role, content: item.content.slice(item.content.length - room) });
    }
    break;
  }
  return kept.reverse();
}
