import type { Token, Tokens } from "marked";
import { lexMarkdown, renderTokens } from "./render";
import { provisionalTail } from "./tail";

/** One top-level block of a reply. Code blocks are rendered by React (as text) so they get a copy button. */
export type MarkdownBlock =
  | { key: string; kind: "html"; html: string }
  | { key: string; kind: "code"; code: string; lang: string; open: boolean };

/** Counters for the render-cost test: how many characters went through the lexer in total. */
export const markdownStats = { lexedChars: 0 };

const BLOCK_PREFIX = "b";

function toBlock(tokens: Token[], key: string): MarkdownBlock {
  const first = tokens[0];
  if (tokens.length === 1 && first.type === "code") {
    const code = first as Tokens.Code;
    const fenced = /^ {0,3}(`{3,}|~{3,})/.exec(code.raw);
    // An unclosed fence is still streaming: marked treats it as code up to the end of the text.
    const open = fenced ? !new RegExp(`\\n {0,3}${fenced[1][0]}{${fenced[1].length},}[ \\t]*\\n*$`).test(code.raw) : false;
    return { key, kind: "code", code: code.text, lang: (code.lang ?? "").split(/\s/, 1)[0], open };
  }
  return { key, kind: "html", html: renderTokens(tokens) };
}

/** An unclosed fence at the end of the text: while it stays open, new text is scanned, not lexed. */
interface OpenFence {
  /** Offset in the source where the fence line starts, and where its content starts. */
  start: number;
  contentStart: number;
  marker: string;
  indent: number;
  lang: string;
  key: string;
  /** The source length up to which no closing fence was found (the next scan starts at that line). */
  scannedTo: number;
}

/**
 * Renders a growing markdown text without re-parsing what is already final.
 *
 * A top-level block is final once the lexer sees another block after it: text appended later
 * cannot change it. Final blocks are rendered once and kept (same object, so React skips them);
 * each update lexes only the text after the last final block. Cost per update is the size of the
 * open trailing block, not of the whole reply, so a long reply stays linear overall.
 */
export class IncrementalMarkdown {
  private openFence: OpenFence | null = null;
  private finalBlocks: MarkdownBlock[] = [];
  /** Length of the source prefix covered by finalBlocks. */
  private finalEnd = 0;
  private source = "";
  private blocks: MarkdownBlock[] = [];
  private wasComplete = false;

  update(text: string, complete: boolean): MarkdownBlock[] {
    if (text === this.source && complete === this.wasComplete) return this.blocks;
    if (!this.continues(text)) this.reset();
    if (!complete && this.openFence && this.updateOpenFence(text)) return this.blocks;
    this.openFence = null;
    this.source = text;
    this.wasComplete = complete;

    const tailStart = this.finalEnd;
    // While streaming, markers still open at the end are closed provisionally or held back (tail.ts):
    // only the last paragraph changes, and it is never final, so nothing provisional is kept.
    const tail = complete ? text.slice(tailStart) : provisionalTail(text.slice(tailStart));
    markdownStats.lexedChars += tail.length;
    const tokens = tail === "" ? [] : lexMarkdown(tail);
    const links = (tokens as Token[] & { links?: unknown }).links;

    // Everything before the last non-space token is final; when the text is complete, all of it is.
    let lastContent = tokens.length - 1;
    while (lastContent >= 0 && tokens[lastContent].type === "space") lastContent--;
    const finalCount = complete ? tokens.length : Math.max(lastContent, 0);

    let consumed = 0;
    let i = 0;
    for (; i < finalCount; i++) {
      const token = tokens[i];
      // The lexer normalizes CR/CRLF; if raw text no longer lines up with the source, stop
      // finalizing (correct, only slower) instead of cutting the source in the wrong place.
      if (tail.substr(consumed, token.raw.length) !== token.raw) break;
      consumed += token.raw.length;
      if (token.type === "space") continue;
      this.finalBlocks.push(toBlock(withLinks([token], links), BLOCK_PREFIX + this.finalBlocks.length));
    }
    this.finalEnd += consumed;

    const open: MarkdownBlock[] = [];
    const rest = tokens.slice(i).filter((t) => t.type !== "space");
    rest.forEach((token, j) => open.push(toBlock(withLinks([token], links), BLOCK_PREFIX + (this.finalBlocks.length + j))));
    this.blocks = open.length ? [...this.finalBlocks, ...open] : this.finalBlocks.slice();

    // A trailing unclosed fence (a long code block being written): remember it, so the next updates
    // only look for its closing line in the new text instead of lexing the whole block again.
    const last = rest[rest.length - 1];
    const lastBlock = open[open.length - 1];
    if (!complete && last && lastBlock?.kind === "code" && lastBlock.open && rest.length === 1) {
      const start = tailStart + tail.indexOf(last.raw, this.finalEnd - tailStart);
      const fence = /^( {0,3})(`{3,}|~{3,})[^\n]*(?:\n|$)/.exec(last.raw);
      if (fence && start >= this.finalEnd) {
        this.openFence = {
          start,
          contentStart: start + fence[0].length,
          marker: fence[2],
          indent: fence[1].length,
          lang: lastBlock.lang,
          key: lastBlock.key,
          scannedTo: start + fence[0].length,
        };
      }
    }
    return this.blocks;
  }

  /** Cheap path for a still-open fence: true when the block is still open and `this.blocks` is updated. */
  private updateOpenFence(text: string): boolean {
    const fence = this.openFence!;
    // Scan from the start of the line that was incomplete last time (a closing fence may have been half-written).
    // A half-written line needs a second look only if it could become a closing fence.
    const lineStart = Math.max(text.lastIndexOf("\n", fence.scannedTo - 1) + 1, fence.contentStart);
    const partial = text.slice(lineStart, Math.min(lineStart + 4, fence.scannedTo));
    const from = /^ {0,3}(?:[`~]|$)/.test(partial) ? lineStart : fence.scannedTo;
    const scan = text.slice(from);
    markdownStats.lexedChars += scan.length;
    // Only a real line start counts: `from` may be in the middle of a line that cannot be a fence.
    const closing = new RegExp(`${from === lineStart ? "(?:^|\\n)" : "\\n"} {0,3}${fence.marker[0] === "`" ? "`" : "~"}{${fence.marker.length},}[ \t]*(?:\n|$)`);
    if (closing.test(scan)) return false; // closed (or maybe closed): let the lexer decide
    fence.scannedTo = text.length;
    this.source = text;
    this.wasComplete = false;
    let code = text.slice(fence.contentStart);
    if (code.endsWith("\n")) code = code.slice(0, -1);
    if (fence.indent > 0) code = code.replace(new RegExp(`^ {1,${fence.indent}}`, "gm"), "");
    const block: MarkdownBlock = { key: fence.key, kind: "code", code, lang: fence.lang, open: true };
    this.blocks = [...this.finalBlocks, block];
    return true;
  }

  /** Streaming only appends; anything else (a restarted reply) means start over. */
  private continues(text: string): boolean {
    if (text.length < this.source.length) return false;
    // Compare from just before the final-block boundary only: the cost stays that of the tail.
    const from = Math.max(0, this.finalEnd - 64);
    return text.slice(from, this.source.length) === this.source.slice(from);
  }

  private reset(): void {
    this.openFence = null;
    this.finalBlocks = [];
    this.finalEnd = 0;
    this.source = "";
    this.blocks = [];
    this.wasComplete = false;
  }
}

function withLinks(tokens: Token[], links: unknown): Token[] {
  // marked.parser reads reference-style link definitions from the token list's `links` property.
  if (links) (tokens as Token[] & { links?: unknown }).links = links;
  return tokens;
}
