// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { IncrementalMarkdown } from "./incremental";
import { provisionalTail } from "./tail";

describe("provisionalTail", () => {
  it.each([
    ["an opened bold is closed provisionally", "Some **bold te", "Some **bold te**"],
    ["an opened italic is closed", "Some *ital", "Some *ital*"],
    ["underscore italic is closed", "Some _ital", "Some _ital_"],
    ["nested emphasis closes innermost first", "A **bold _and ita", "A **bold _and ita_**"],
    ["strikethrough is closed", "Was ~~wro", "Was ~~wro~~"],
    ["inline code is closed", "Run `npm ci", "Run `npm ci`"],
    ["a double-backtick span is closed with two", "Run ``a ` b", "Run ``a ` b``"],
    ["a marker with nothing after it is held back", "Some text **", "Some text "],
    ["a backtick with nothing after it is held back", "Run `", "Run "],
    ["an unfinished link shows its text", "See [the docs", "See the docs"],
    ["a link waiting for its address shows its text", "See [the docs](https://exa", "See the docs"],
    ["a link with `](` and nothing more shows its text", "See [the docs](", "See the docs"],
    ["an unfinished image shows its alt text", "Look ![a cat](http", "Look a cat"],
    ["a finished link stays", "See [docs](https://example.com) and", "See [docs](https://example.com) and"],
    ["closed emphasis stays", "Some **bold** and *it* done", "Some **bold** and *it* done"],
    ["snake_case is not emphasis", "call my_func_name", "call my_func_name"],
    ["a list bullet is not emphasis", "* item one\n* item tw", "* item one\n* item tw"],
    ["an escaped marker is text", "a \\*literal", "a \\*literal"],
    ["only the last paragraph is completed", "Old **x\n\nNew *y", "Old **x\n\nNew *y*"],
    ["a closer goes before a trailing space", "Some **bold ", "Some **bold** "],
  ])("%s", (_, input, expected) => {
    expect(provisionalTail(input)).toBe(expected);
  });

  it("leaves an open code fence alone", () => {
    const text = "Code:\n\n```js\nconst a = `x **y";
    expect(provisionalTail(text)).toBe(text);
  });
});

describe("IncrementalMarkdown while streaming", () => {
  const html = (blocks: ReturnType<IncrementalMarkdown["update"]>) => blocks.map((b) => (b.kind === "html" ? b.html : b.code)).join("");

  it("never shows raw markers at the tail, at any cut of a reply", () => {
    const reply = "Use **bold**, _italics_, `code` and [a link](https://example.com/x) in one line.";
    const renderer = new IncrementalMarkdown();
    for (let cut = 1; cut < reply.length; cut++) {
      const shown = html(renderer.update(reply.slice(0, cut), false)).replace(/<[^>]+>/g, "");
      expect(shown, `after ${cut} characters`).not.toMatch(/\*|`|\]\(|(?<![a-z])_/);
    }
    expect(html(renderer.update(reply, true))).toContain('<a href="https://example.com/x"');
  });

  it("the complete text is rendered as written (nothing provisional is kept)", () => {
    const renderer = new IncrementalMarkdown();
    renderer.update("Text **bo", false);
    expect(html(renderer.update("Text **bo", true))).toContain("**bo");
  });
});
