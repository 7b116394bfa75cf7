import type { Token, Tokens } from "marked";
import { lexMarkdown, renderTokens } from "./render";

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

/**
 * Renders a growing markdown text without re-parsing what is already final.
 *
 * A top-level block is final once the lexer sees another block after it: text appended later
 * cannot change it. Final blocks are rendered once and kept (same object, so React skips them);
 * each update lexes only the text after the last final block. Cost per update is the size of the
 * open trailing block, not of the whole reply, so a long reply stays linear overall.
 */
export class IncrementalMarkdown {
  private finalBlocks: MarkdownBlock[] = [];
  /** Length of the source prefix covered by finalBlocks. */
  private finalEnd = 0;
  private source = "";
  private blocks: MarkdownBlock[] = [];
  private wasComplete = false;

  update(text: string, complete: boolean): MarkdownBlock[] {
    if (text === this.source && complete === this.wasComplete) return this.blocks;
    if (!this.continues(text)) this.reset();
    this.source = text;
    this.wasComplete = complete;

    const tail = text.slice(this.finalEnd);
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
    return this.blocks;
  }

  /** Streaming only appends; anything else (a restarted reply) means start over. */
  private continues(text: string): boolean {
    if (text.length < this.source.length) return false;
    // Compare from just before the final-block boundary only: the cost stays that of the tail.
    const from = Math.max(0, this.finalEnd - 64);
    return text.slice(from, this.source.length) === this.source.slice(from);
  }

  private reset(): void {
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
