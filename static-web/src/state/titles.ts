/** Titles: a local one from the first message at once, a generated one from the title endpoint once the first reply ends. */

/** Words kept in a title made from the first message (chat pages show about this many). */
export const TITLE_WORDS = 6;
const TITLE_MAX_CHARS = 60;
/** The longest title the conversation API keeps (ConversationService.MaxTitleChars, UTF-16 code units); longer ones are refused. */
export const SYNC_TITLE_MAX_CHARS = 200;

/** A title cut to what the server keeps, never in the middle of a surrogate pair. */
export function capTitle(title: string): string {
  if (title.length <= SYNC_TITLE_MAX_CHARS) return title;
  const cut = title.slice(0, SYNC_TITLE_MAX_CHARS);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** The reply sent to the title endpoint is cut to this many characters (the endpoint's contract). */
export const TITLE_REPLY_CHARS = 2_000;

/** Demo-model directives such as `[demo:tokens=40]`: instructions to the demo, not words of the question. */
const DEMO_DIRECTIVE = /\[demo:[^\]]*\]/gi;

/** Markdown as plain words: no fences, markers, link targets or HTML. */
export function plainText(markdown: string): string {
  return markdown
    .replace(DEMO_DIRECTIVE, " ")
    .replace(/^\s*(```|~~~)[^\n]*$/gm, " ")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, " ")
    .replace(/^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)/gm, "")
    .replace(/[*_~`]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

/** A title from the first message: directives and markdown stripped, the first TITLE_WORDS words. */
export function fallbackTitle(text: string): string {
  const words = plainText(text).split(" ").filter(Boolean);
  let title = words.slice(0, TITLE_WORDS).join(" ");
  if (title.length > TITLE_MAX_CHARS) title = title.slice(0, TITLE_MAX_CHARS - 1).trimEnd() + "…";
  else if (words.length > TITLE_WORDS) title += "…";
  return title || "New chat";
}

/** A title the endpoint sent, made safe to show as one line: trimmed, unquoted, at most TITLE_MAX_CHARS. */
export function cleanGeneratedTitle(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  const title = plainText(raw).replace(/^["'“”‘’]+|["'“”‘’.]+$/g, "").trim();
  if (!title) return undefined;
  return title.length > TITLE_MAX_CHARS ? title.slice(0, TITLE_MAX_CHARS - 1).trimEnd() + "…" : title;
}
