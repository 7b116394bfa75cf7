import { memo, useRef } from "react";
import { useCopy } from "./useCopy";

interface Props {
  code: string;
  lang: string;
  /** The fence is still open (streaming): the copy button waits for the whole block. */
  open: boolean;
}

/** Lines per rendered segment: a growing block only re-renders (and re-lays-out) its last segment. */
const SEGMENT_LINES = 50;

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

/** Code is rendered as React text, never as HTML, so nothing in it can be markup. */
export const CodeBlock = memo(function CodeBlock({ code, lang, open }: Props) {
  const [copied, copy] = useCopy();
  const segments = useSegments(code);
  return (
    <div className={open ? "code-block open" : "code-block"}>
      <div className="code-toolbar">
        <span className="code-lang">{lang || "code"}</span>
        <button type="button" className="copy-code" onClick={() => copy(code)} disabled={open} aria-label={copied ? "Code copied" : `Copy ${lang || "code"} code`}>
          <span aria-live="polite">{copied ? "Copied" : "Copy"}</span>
        </button>
      </div>
      <pre tabIndex={0} aria-label={`${lang || "Code"} code block`}>
        <code>
          {segments.map((segment, i) => (
            <span className="code-segment" key={i}>
              {segment}
            </span>
          ))}
        </code>
      </pre>
    </div>
  );
});
