/**
 * highlight.js is loaded on first use (the first code block that names a language), as its own chunk:
 * pages without code never download it. Until it arrives, code shows as plain text.
 */
type Highlighter = typeof import("./highlight");

let loaded: Highlighter | null = null;
let loading: Promise<Highlighter> | null = null;

export function currentHighlighter(): Highlighter | null {
  return loaded;
}

export function loadHighlighter(): Promise<Highlighter> {
  loading ??= import("./highlight").then((module) => (loaded = module));
  return loading;
}
