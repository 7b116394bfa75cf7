// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { IncrementalMarkdown, markdownStats, type MarkdownBlock } from "./incremental";
import { renderMarkdown } from "./render";

const reply =
  "Here is a plan.\n\n" +
  "1. First step\n2. Second step\n\n" +
  "Some *emphasis* and a [link](https://example.com).\n\n" +
  "```ts\nconst x: number = 1;\nconsole.log(x);\n```\n\n" +
  "> a quote\n\n" +
  "Final paragraph.";

function htmlOf(blocks: MarkdownBlock[]): string {
  return blocks.map((b) => (b.kind === "html" ? b.html : `[code:${b.lang}:${b.code}]`)).join("");
}

describe("IncrementalMarkdown", () => {
  it("streamed in small pieces, ends with the same blocks as rendering the whole text once", () => {
    const streamed = new IncrementalMarkdown();
    let text = "";
    for (let i = 0; i < reply.length; i += 3) {
      text = reply.slice(0, i + 3);
      streamed.update(text, false);
    }
    const finalStreamed = streamed.update(reply, true);
    const once = new IncrementalMarkdown().update(reply, true);
    expect(htmlOf(finalStreamed)).toBe(htmlOf(once));
    expect(finalStreamed.map((b) => b.kind)).toEqual(["html", "html", "html", "code", "html", "html"]);
  });

  it("keeps final blocks as the same objects (so React skips them)", () => {
    const md = new IncrementalMarkdown();
    const first = md.update("Para one.\n\nPara two", false);
    const second = md.update("Para one.\n\nPara two continues", false);
    expect(second[0]).toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
  });

  it("lexes only the open tail, not the whole reply, on each update", () => {
    const md = new IncrementalMarkdown();
    let text = "";
    const before = markdownStats.lexedChars;
    for (let i = 0; i < 200; i++) {
      text += `Paragraph number ${i} with some words.\n\n`;
      md.update(text, false);
    }
    const lexed = markdownStats.lexedChars - before;
    // Re-lexing everything each time would be ~ n²/2 = ~200 * text.length / 2.
    expect(lexed).toBeLessThan(text.length * 3);
  });

  it("marks an unclosed code fence as open and a closed one as not", () => {
    const md = new IncrementalMarkdown();
    const open = md.update("```py\nprint(1)\n", false);
    expect(open).toMatchObject([{ kind: "code", lang: "py", code: "print(1)", open: true }]);
    const closed = md.update("```py\nprint(1)\n```", false);
    expect(closed).toMatchObject([{ kind: "code", lang: "py", open: false }]);
  });

  it("starts over when the text is replaced (a restarted reply)", () => {
    const md = new IncrementalMarkdown();
    md.update("Old text.\n\nMore old text.\n\nTail", false);
    const blocks = md.update("New", false);
    expect(htmlOf(blocks)).toBe(renderMarkdown("New"));
  });

  it("copes with CRLF in model text", () => {
    const md = new IncrementalMarkdown();
    md.update("a\r\n\r\nb", false);
    const blocks = md.update("a\r\n\r\nb\r\n\r\nc", true);
    expect(htmlOf(blocks).replace(/\n/g, "")).toBe(renderMarkdown("a\n\nb\n\nc").replace(/\n/g, ""));
  });

  it("keeps raw HTML inert while streaming", () => {
    const md = new IncrementalMarkdown();
    const blocks = md.update('Echo: <img src=x onerror="alert(1)"> <script>alert(1)</script>', false);
    const html = htmlOf(blocks);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script");
  });
});

describe("IncrementalMarkdown: a long unclosed code block", () => {
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i} = compute(${i});`);

  it("scans only new text while the fence is open, and ends like a one-off render", () => {
    const md = new IncrementalMarkdown();
    let text = "Intro paragraph.\n\n```js\n";
    md.update(text, false);
    const before = markdownStats.lexedChars;
    let perUpdate = 0;
    for (const line of lines) {
      text += line + "\n";
      const lexedBefore = markdownStats.lexedChars;
      const blocks = md.update(text, false);
      perUpdate = Math.max(perUpdate, markdownStats.lexedChars - lexedBefore);
      expect(blocks.at(-1)).toMatchObject({ kind: "code", lang: "js", open: true });
    }
    // Each update reads about one line, not the block so far.
    expect(perUpdate).toBeLessThan(80);
    expect(markdownStats.lexedChars - before).toBeLessThan(text.length * 2);
    const streamedCode = md.update(text, false).at(-1);
    expect(streamedCode).toMatchObject({ code: lines.join("\n") });

    text += "```\n\nAfter.";
    const closed = md.update(text, true);
    expect(htmlOf(closed)).toBe(htmlOf(new IncrementalMarkdown().update(text, true)));
    expect(closed.map((b) => b.kind)).toEqual(["html", "code", "html"]);
  });

  it("notices a closing fence written in pieces", () => {
    const md = new IncrementalMarkdown();
    md.update("```\na\n", false);
    md.update("```\na\nb\n`", false);
    expect(md.update("```\na\nb\n``", false).at(-1)).toMatchObject({ open: true });
    expect(md.update("```\na\nb\n```", false).at(-1)).toMatchObject({ kind: "code", code: "a\nb", open: false });
  });

  it("removes the fence's indentation like the lexer does", () => {
    const md = new IncrementalMarkdown();
    md.update("  ```py\n  a\n", false);
    expect(md.update("  ```py\n  a\n    b\n", false).at(-1)).toMatchObject({ code: "a\n  b", open: true });
  });
});
