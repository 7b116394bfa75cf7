import { memo, useMemo, useRef } from "react";
import { IncrementalMarkdown } from "../markdown/incremental";
import { CodeBlock } from "./CodeBlock";

/** `html` is DOMPurify output (see markdown/render.ts): the only place raw HTML enters the page. */
const HtmlBlock = memo(function HtmlBlock({ html }: { html: string }) {
  return <div className="md-block" dangerouslySetInnerHTML={{ __html: html }} />;
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
      {blocks.map((block) =>
        block.kind === "code" ? (
          <div className="md-block" key={block.key}>
            <CodeBlock code={block.code} lang={block.lang} open={block.open && !complete} />
          </div>
        ) : (
          <HtmlBlock key={block.key} html={block.html} />
        ),
      )}
    </div>
  );
});
