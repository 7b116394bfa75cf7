import DOMPurify, { type DOMPurify as Purifier } from "dompurify";
import { Marked, type Token, type Tokens } from "marked";

/**
 * Markdown → safe HTML for model output. Two layers, so one mistake is not enough for XSS:
 * 1. marked renders raw HTML in the model's text as visible text (escaped), like other chat UIs do,
 *    and images as plain links (loading a remote image would leak the conversation via its URL).
 * 2. DOMPurify keeps only a small allow-list of markdown tags, no class/id/style (model output must
 *    not be able to imitate our own UI), and only http(s)/mailto links.
 */

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    image(token: Tokens.Image): string {
      const label = escapeHtml(token.text || token.href);
      return `<a href="${escapeHtml(token.href)}">Image: ${label}</a>`;
    },
  },
});

const ALLOWED_TAGS = [
  "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "del", "s",
  "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
  "sup", "sub", "kbd",
];
const ALLOWED_ATTR = ["href", "title", "start", "align"];
const SAFE_URL = /^(?:https?:|mailto:)/i;

let purifier: Purifier | undefined;

function getPurifier(): Purifier {
  if (purifier) return purifier;
  purifier = DOMPurify(window);
  purifier.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName === "A") {
      const href = node.getAttribute("href");
      if (href && !SAFE_URL.test(href.trim())) node.removeAttribute("href");
      if (node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    }
  });
  return purifier;
}

export function sanitizeHtml(html: string): string {
  return getPurifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: [...ALLOWED_ATTR, "target", "rel"],
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOWED_URI_REGEXP: SAFE_URL,
  });
}

export function lexMarkdown(text: string): Token[] {
  return marked.lexer(text);
}

/** Renders already-lexed block tokens (they keep their `links` map from the lexer) to sanitized HTML. */
export function renderTokens(tokens: Token[]): string {
  return sanitizeHtml(marked.parser(tokens));
}

/** Whole-document convenience for tests and one-off rendering. */
export function renderMarkdown(text: string): string {
  return renderTokens(lexMarkdown(text));
}
