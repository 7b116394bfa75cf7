import { memo, useLayoutEffect, useMemo, useRef } from "react";
import { IncrementalMarkdown } from "../markdown/incremental";
import { CodeBlock } from "./CodeBlock";

/** Block elements the streaming cursor may go inside; it stays out of tables, code and rules. */
const CURSOR_CONTAINERS = new Set(["P", "UL", "OL", "LI", "BLOCKQUOTE", "H1", "H2", "H3", "H4", "H5", "H6"]);

/** The innermost block that ends the element's text: the cursor goes at its end (after a list: in its last item). */
function cursorTarget(root: HTMLElement): HTMLElement {
  let el = root;
  while (true) {
    let last = el.lastChild;
    while (last && last.nodeType === Node.TEXT_NODE && last.textContent!.trim() === "") last = last.previousSibling;
    if (!(last instanceof HTMLElement) || !CURSOR_CONTAINERS.has(last.tagName)) return el;
    el = last;
  }
}

/** `html` is DOMPurify output (see markdown/render.ts): the only place raw HTML enters the page. */
const HtmlBlock = memo(function HtmlBlock({ html, cursor }: { html: string; cursor: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    if (!cursor || !ref.current) return;
    const target = cursorTarget(ref.current);
    target.classList.add("cursor-here");
    return () => target.classList.remove("cursor-here");
  }, [html, cursor]);
  return <div className="md-block" ref={ref} dangerouslySetInnerHTML={{ __html: html }} />;
});

interface Props {
  text: string;
  /** False while streaming: the trailing block may still change. */
  complete: boolean;
}

export const Markdown = memo(function Markdown({ text, complete }: Props) {
  // One incremental renderer per message: final blocks are parsed once, only the tail again.
  const renderer = useRef<IncrementalMarkdown>(null);
  renderer.current ??= new IncrementalMarkdown();
  const blocks = useMemo(() => renderer.current!.update(text, complete), [text, complete]);
  return (
    <div className="markdown">
      {blocks.map((block, i) =>
        block.kind === "code" ? (
          <div className="md-block" key={block.key}>
            <CodeBlock code={block.code} lang={block.lang} open={block.open && !complete} />
          </div>
        ) : (
          <HtmlBlock key={block.key} html={block.html} cursor={!complete && i === blocks.length - 1} />
        ),
      )}
    </div>
  );
});
