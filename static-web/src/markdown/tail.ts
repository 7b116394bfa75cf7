/**
 * The streaming tail of a reply, made safe to show: markdown that is still being written (an opened
 * `**`, `_`, `~~` or backtick, a link whose `](` or address has not arrived) would show its raw
 * markers until the closing one comes. Emphasis and code are closed provisionally (the text shows
 * bold, italic or as code at once); an unfinished link shows its text only; a marker with nothing
 * after it yet is held back. Only the last paragraph is looked at; the text is never changed once
 * the reply is complete.
 */
export function provisionalTail(text: string): string {
  // Inside an open fenced code block everything is code: nothing to complete.
  const fences = text.match(/^ {0,3}(`{3,}|~{3,})/gm);
  if (fences && fences.length % 2 === 1) return text;
  const blank = text.lastIndexOf("\n\n");
  const paragraphStart = blank < 0 ? 0 : blank + 2;
  const head = text.slice(0, paragraphStart);
  let paragraph = text.slice(paragraphStart);

  paragraph = completeLink(paragraph);
  return head + completeInline(paragraph);
}

/** `[text` or `[text](partial` at the end → `text`; `![alt](partial` → `alt`. */
function completeLink(paragraph: string): string {
  // The last `[` that is not part of a finished link `[..](..)`.
  for (let open = paragraph.lastIndexOf("["); open >= 0; open = paragraph.lastIndexOf("[", open - 1)) {
    const rest = paragraph.slice(open);
    if (/^\[[^\]]*\]\([^)\s]*(?:\s+"[^"]*")?\)/.test(rest)) return paragraph; // a finished link: nothing open after it
    if (/^\[[^\]]*\](?!\()/.test(rest) && rest.indexOf("]") < rest.length - 1) continue; // "[x] y": not a link
    const match = /^\[([^\]\n]*)(?:\](?:\([^)]*)?)?$/.exec(rest);
    if (!match) return paragraph;
    const start = open > 0 && paragraph[open - 1] === "!" ? open - 1 : open;
    return paragraph.slice(0, start) + match[1];
  }
  return paragraph;
}

type Marker = "`" | "**" | "__" | "*" | "_" | "~~";

/** Closes emphasis, strikethrough and inline code left open at the end (innermost first). */
function completeInline(paragraph: string): string {
  const stack: { marker: Marker; at: number }[] = [];
  let i = 0;
  const n = paragraph.length;
  while (i < n) {
    const ch = paragraph[i];
    if (ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === "`") {
      let run = 1;
      while (paragraph[i + run] === "`") run++;
      const close = paragraph.indexOf("`".repeat(run), i + run);
      if (close < 0) {
        stack.push({ marker: "`", at: i });
        // Backticks of another length cannot close it: the rest is code.
        return close_(paragraph, stack, run);
      }
      i = close + run;
      continue;
    }
    const lineStart = i === 0 || paragraph[i - 1] === "\n";
    // A list bullet ("* item") is not emphasis.
    if (lineStart && (ch === "*" || ch === "-" || ch === "+") && paragraph[i + 1] === " ") {
      i += 2;
      continue;
    }
    let marker: Marker | undefined;
    if (paragraph.startsWith("**", i)) marker = "**";
    else if (paragraph.startsWith("__", i)) marker = "__";
    else if (paragraph.startsWith("~~", i)) marker = "~~";
    else if (ch === "*") marker = "*";
    else if (ch === "_") marker = "_";
    if (!marker) {
      i++;
      continue;
    }
    const before = paragraph[i - 1] ?? " ";
    const after = paragraph[i + marker.length] ?? "";
    // Underscores inside a word (snake_case) are not emphasis.
    if (marker[0] === "_" && /[\p{L}\p{N}]/u.test(before) && /[\p{L}\p{N}]/u.test(after)) {
      i += marker.length;
      continue;
    }
    const top = lastIndex(stack, marker);
    if (top >= 0 && !/\s/.test(before)) stack.splice(top);
    else if (after === "" || !/\s/.test(after)) stack.push({ marker, at: i });
    i += marker.length;
  }
  return close_(paragraph, stack, 1);
}

function lastIndex(stack: { marker: Marker }[], marker: Marker): number {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k].marker === marker) return k;
  return -1;
}

function close_(paragraph: string, stack: { marker: Marker; at: number }[], codeRun: number): string {
  let text = paragraph;
  // An opener with nothing after it yet is held back (closing it would show the markers as text).
  while (stack.length && text.slice(stack[stack.length - 1].at + markerLength(stack[stack.length - 1].marker, codeRun)).trim() === "") {
    text = text.slice(0, stack.pop()!.at);
  }
  if (/\s$/.test(text) && stack.length) {
    // A closer right after a space is not a closer in markdown: close before the trailing space.
    const trimmed = text.replace(/\s+$/, "");
    return trimmed + closers(stack, codeRun) + text.slice(trimmed.length);
  }
  return text + closers(stack, codeRun);
}

function markerLength(marker: Marker, codeRun: number): number {
  return marker === "`" ? codeRun : marker.length;
}

function closers(stack: { marker: Marker }[], codeRun: number): string {
  return stack
    .map((s) => (s.marker === "`" ? "`".repeat(codeRun) : s.marker))
    .reverse()
    .join("");
}
