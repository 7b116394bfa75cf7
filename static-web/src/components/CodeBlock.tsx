import { memo } from "react";
import { useCopy } from "./useCopy";

interface Props {
  code: string;
  lang: string;
  /** The fence is still open (streaming): the copy button waits for the whole block. */
  open: boolean;
}

/** Code is rendered as React text, never as HTML, so nothing in it can be markup. */
export const CodeBlock = memo(function CodeBlock({ code, lang, open }: Props) {
  const [copied, copy] = useCopy();
  return (
    <div className={open ? "code-block open" : "code-block"}>
      <div className="code-toolbar">
        <span className="code-lang">{lang || "code"}</span>
        <button type="button" className="copy-code" onClick={() => copy(code)} disabled={open} aria-label={copied ? "Code copied" : `Copy ${lang || "code"} code`}>
          <span aria-live="polite">{copied ? "Copied" : "Copy"}</span>
        </button>
      </div>
      <pre tabIndex={0} aria-label={`${lang || "Code"} code block`}>
        <code>{code}</code>
      </pre>
    </div>
  );
});
