import { describe, expect, it } from "vitest";
import { capTitle, cleanGeneratedTitle, fallbackTitle, plainText, SYNC_TITLE_MAX_CHARS } from "./titles";

describe("fallbackTitle", () => {
  it("drops demo directives and markdown and keeps six words", () => {
    expect(fallbackTitle("[demo:think=2][demo:tokens=40] Explain _server-sent_ events in **detail**, please, with an example")).toBe(
      "Explain server-sent events in detail, please,…",
    );
    expect(fallbackTitle("# A [link](https://example.com) and `code`")).toBe("A link and code");
    expect(fallbackTitle("What is\nSSE?")).toBe("What is SSE?");
  });

  it("is never empty and never long", () => {
    expect(fallbackTitle("[demo:error]")).toBe("New chat");
    expect(fallbackTitle("   ")).toBe("New chat");
    expect(fallbackTitle("x".repeat(100)).length).toBeLessThanOrEqual(60);
  });

  it("plainText keeps words of code fences but not the fences", () => {
    expect(plainText("```js\nconst a = 1;\n```")).toBe("const a = 1;");
  });
});

describe("cleanGeneratedTitle", () => {
  it("unquotes, trims and refuses what is not a title", () => {
    expect(cleanGeneratedTitle('"Recursive grep."')).toBe("Recursive grep");
    expect(cleanGeneratedTitle("  ")).toBeUndefined();
    expect(cleanGeneratedTitle(42)).toBeUndefined();
    expect(cleanGeneratedTitle("y".repeat(200))!.length).toBeLessThanOrEqual(60);
  });
});

describe("capTitle", () => {
  it("keeps a title within the server's limit as it is", () => {
    const title = "x".repeat(SYNC_TITLE_MAX_CHARS);
    expect(capTitle(title)).toBe(title);
  });

  it("cuts a longer title to the server's limit", () => {
    expect(capTitle("y".repeat(SYNC_TITLE_MAX_CHARS + 50))).toBe("y".repeat(SYNC_TITLE_MAX_CHARS));
  });

  it("never leaves half of a surrogate pair at the cut", () => {
    // An emoji (two UTF-16 units) straddling the limit is dropped whole.
    const title = "z".repeat(SYNC_TITLE_MAX_CHARS - 1) + "😀tail";
    const capped = capTitle(title);
    expect(capped).toBe("z".repeat(SYNC_TITLE_MAX_CHARS - 1));
    expect(capped.length).toBeLessThanOrEqual(SYNC_TITLE_MAX_CHARS);
  });
});
