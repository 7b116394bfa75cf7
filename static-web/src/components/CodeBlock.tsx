import { memo, useEffect, useMemo, useRef, useState } from "react";
import { currentHighlighter, loadHighlighter } from "../markdown/highlighter";
import { useCopy } from "./useCopy";

interface Props {
  code: string;
  lang: string;
  /** The fence is still open (streaming): the copy button waits for the whole block. */
  open: boolean;
}

type Highlighter = NonNullable<ReturnType<typeof currentHighlighter>>;

/**
 * Lines per rendered segment: a growing block only re-renders (re-highlights, re-lays-out) its last
 * segment. Highlighting 10 lines costs about a millisecond, 50 lines five times that on every frame.
 */
const SEGMENT_LINES = 10;
/** A finished block up to this size is highlighted again as a whole (exact across segment boundaries, ~60 ms at most). */
const WHOLE_HIGHLIGHT_MAX_LINES = 200;

/**
 * Splits growing code into segments of SEGMENT_LINES lines; finished segments are kept (same strings),
 * so only the last one changes while the block streams. Text that is not an extension starts over.
 */
function useSegments(code: string): string[] {
  const state = useRef<{ done: string[]; doneLength: number }>({ done: [], doneLength: 0 });
  let { done, doneLength } = state.current;
  const lastDone = done[done.length - 1];
  if (code.length < doneLength || (lastDone !== undefined && code.slice(doneLength - lastDone.length, doneLength) !== lastDone)) {
    done = [];
    doneLength = 0;
  }
  let start = doneLength;
  let lines = 0;
  for (let i = start; i < code.length; i++) {
    if (code.charCodeAt(i) !== 10) continue;
    if (++lines === SEGMENT_LINES) {
      if (done === state.current.done) done = done.slice();
      done.push(code.slice(start, i + 1));
      start = i + 1;
      lines = 0;
    }
  }
  doneLength = start;
  state.current = { done, doneLength };
  const rest = code.slice(doneLength);
  return rest ? [...done, rest] : done;
}

/**
 * One segment, highlighted once per text (finished segments keep their string, so memo skips them).
 * `html` comes from highlight.js, which escapes all of the text (markdown/highlight.ts); a language
 * outside its set is rendered as React text.
 */
const Segment = memo(function Segment({ text, lang, highlighter }: { text: string; lang: string; highlighter: Highlighter | null }) {
  const html = useMemo(() => highlighter?.highlightCode(text, lang), [text, lang, highlighter]);
  return html === undefined ? <span className="code-segment">{text}</span> : <span className="code-segment" dangerouslySetInnerHTML={{ __html: html }} />;
});

/**
 * The code is highlighted per segment, so an update costs at most one segment; a construct spanning a
 * segment boundary (a long block comment or string) may be coloured approximately. Once the fence
 * closes, a block of up to WHOLE_HIGHLIGHT_MAX_LINES is highlighted again as a whole, exactly; a longer
 * one keeps its segments (highlighting 2,000 lines at once is a long task of about half a second).
 */
export const CodeBlock = memo(function CodeBlock({ code, lang, open }: Props) {
  const [copied, copy] = useCopy();
  const [wrap, setWrap] = useState(false);
  const [highlighter, setHighlighter] = useState(currentHighlighter);
  useEffect(() => {
    if (highlighter || !lang) return;
    let live = true;
    loadHighlighter().then(
      (loaded) => live && setHighlighter(loaded),
      () => {}, // Offline or a failed chunk: the code stays plain text.
    );
    return () => {
      live = false;
    };
  }, [highlighter, lang]);
  const segments = useSegments(code);
  const name = lang || "code";
  return (
    <div className={open ? "code-block open" : "code-block"} data-lang={lang || undefined}>
      <div className="code-toolbar">
        <span className="code-lang">{name}</span>
        <span className="code-tools">
          <button type="button" className="wrap-code" onClick={() => setWrap((w) => !w)} aria-pressed={wrap} aria-label={`Wrap long lines of ${name} code`}>
            Wrap
          </button>
          <button type="button" className="copy-code" onClick={() => copy(code)} disabled={open} aria-label={copied ? "Code copied" : `Copy ${name} code`}>
            <span aria-live="polite">{copied ? "Copied" : "Copy"}</span>
          </button>
        </span>
      </div>
      <pre tabIndex={0} aria-label={`${lang || "Code"} code block`} className={wrap ? "wrap" : undefined}>
        <code className="hljs">
          {open || segments.length * SEGMENT_LINES > WHOLE_HIGHLIGHT_MAX_LINES ? (
            segments.map((segment, i) => <Segment key={i} text={segment} lang={lang} highlighter={highlighter} />)
          ) : (
            <Segment text={code} lang={lang} highlighter={highlighter} />
          )}
        </code>
      </pre>
    </div>
  );
});
