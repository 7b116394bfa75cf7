import { plainText } from "./titles";
import type { Conversation, Message } from "./types";

/** The list's order: most recently updated first (stable for equal times). */
export function byRecency(conversations: readonly Conversation[]): Conversation[] {
  return [...conversations].sort((a, b) => b.updatedAt - a.updatedAt);
}

export interface ChatGroup {
  /** Stable key: "today", "yesterday", "7", "30" or "YYYY-MM". */
  key: string;
  label: string;
  conversations: Conversation[];
}

const DAY_MS = 86_400_000;

function startOfDay(time: number): number {
  const d = new Date(time);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/**
 * Today / Yesterday / Previous 7 days / Previous 30 days, then one group per month (in the user's
 * locale through Intl, with the year when it is not this year). Days are local calendar days.
 */
export function groupByDate(conversations: readonly Conversation[], now: number, locale?: string): ChatGroup[] {
  const today = startOfDay(now);
  // Calendar days, not 24-hour spans: a daylight-saving change makes one day 23 or 25 hours long.
  const daysAgo = (time: number) => Math.round((today - startOfDay(time)) / DAY_MS);
  const thisYear = new Date(now).getFullYear();
  const monthFormat = new Intl.DateTimeFormat(locale, { month: "long" });
  const monthYearFormat = new Intl.DateTimeFormat(locale, { month: "long", year: "numeric" });
  const groups: ChatGroup[] = [];
  for (const c of byRecency(conversations)) {
    const days = daysAgo(c.updatedAt);
    let key: string;
    let label: string;
    if (days <= 0) [key, label] = ["today", "Today"];
    else if (days === 1) [key, label] = ["yesterday", "Yesterday"];
    else if (days <= 7) [key, label] = ["7", "Previous 7 days"];
    else if (days <= 30) [key, label] = ["30", "Previous 30 days"];
    else {
      const d = new Date(c.updatedAt);
      key = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
      label = (d.getFullYear() === thisYear ? monthFormat : monthYearFormat).format(d);
    }
    const last = groups[groups.length - 1];
    if (last?.key === key) last.conversations.push(c);
    else groups.push({ key, label, conversations: [c] });
  }
  return groups;
}

export interface SearchHit {
  conversation: Conversation;
  /** Where the query was found: in the title, or a short excerpt of the message text around it. */
  inTitle: boolean;
  excerpt?: string;
}

const EXCERPT_CHARS = 60;

function* allMessages(messages: readonly Message[]): Generator<Message> {
  for (const m of messages) {
    yield m;
    for (const v of m.versions ?? []) yield* allMessages([{ ...v, id: m.id }, ...v.after]);
  }
}

/**
 * Chats whose title or message text (every version included) contains every word of the query,
 * case- and accent-insensitively; in list order. An empty query matches nothing (the list shows all).
 */
export function searchConversations(conversations: readonly Conversation[], query: string): SearchHit[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const hits: SearchHit[] = [];
  for (const c of byRecency(conversations)) {
    const title = fold(c.title);
    const texts = [...allMessages(c.messages)].map((m) => plainText(m.content));
    const all = fold([c.title, ...texts].join("\n"));
    if (!words.every((w) => all.includes(w))) continue;
    const inTitle = words.every((w) => title.includes(w));
    let excerpt: string | undefined;
    if (!inTitle) {
      const text = texts.find((t) => fold(t).includes(words.find((w) => !title.includes(w))!));
      if (text) {
        const at = fold(text).indexOf(words.find((w) => fold(text).includes(w))!);
        const start = Math.max(0, at - EXCERPT_CHARS / 3);
        excerpt = (start > 0 ? "…" : "") + text.slice(start, start + EXCERPT_CHARS) + (start + EXCERPT_CHARS < text.length ? "…" : "");
      }
    }
    hits.push({ conversation: c, inTitle, excerpt });
  }
  return hits;
}

/** Lower case without accents, keeping the string's length (so offsets found in it hold in the original). */
export function fold(text: string): string {
  return [...text].map((ch) => (ch.normalize("NFD").replace(/\p{M}/gu, "") || ch).toLowerCase().slice(0, ch.length)).join("");
}

/** Splits text into parts, marking those that match a query word (for <mark> highlighting). */
export function highlight(text: string, query: string): { text: string; match: boolean }[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return [{ text, match: false }];
  const folded = fold(text);
  const marks = new Array<boolean>(text.length).fill(false);
  for (const w of words) for (let at = folded.indexOf(w); at >= 0; at = folded.indexOf(w, at + 1)) marks.fill(true, at, at + w.length);
  const parts: { text: string; match: boolean }[] = [];
  for (let i = 0; i < text.length; ) {
    let j = i;
    while (j < text.length && marks[j] === marks[i]) j++;
    parts.push({ text: text.slice(i, j), match: marks[i] });
    i = j;
  }
  return parts;
}
