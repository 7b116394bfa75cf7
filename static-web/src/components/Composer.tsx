import { useLayoutEffect, useRef, type FormEvent, type KeyboardEvent } from "react";
import { LIMITS } from "../api/history";

interface Props {
  /** The draft lives with the page, so Edit can put a refused message back. */
  text: string;
  onTextChange: (text: string) => void;
  /** This conversation's reply is streaming (another conversation's reply does not block this box). */
  streaming: boolean;
  /** Set when sending is not possible at all (e.g. not signed in); shown as the hint. */
  disabledReason?: string;
  onSend: (text: string) => boolean;
  onStop: () => void;
}

const MAX_HEIGHT_PX = 200;

export function Composer({ text, onTextChange: setText, streaming, disabledReason, onSend, onStop }: Props) {
  const input = useRef<HTMLTextAreaElement>(null);
  const tooLong = text.length > LIMITS.maxMessageChars;
  const canSend = text.trim() !== "" && !tooLong && !streaming && !disabledReason;

  // Grow with the text up to a limit (set through the CSSOM, which the CSP allows).
  useLayoutEffect(() => {
    const el = input.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [text]);

  function submit(event?: FormEvent) {
    event?.preventDefault();
    if (!canSend) return;
    if (onSend(text)) setText("");
    input.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Enter sends; Shift+Enter is a newline; Enter that confirms an IME composition (Korean, Japanese…) is neither.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape" && streaming) {
      event.preventDefault();
      onStop();
    }
  }

  return (
    <form className="composer" onSubmit={submit} aria-label="Send a message">
      <div className="composer-box">
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={input}
          rows={1}
          value={text}
          placeholder="Message the assistant"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="composer-hint"
          aria-invalid={tooLong || undefined}
          autoFocus
        />
        {streaming ? (
          <button type="button" className="send stop" onClick={onStop} aria-label="Stop generating">
            <span aria-hidden="true">■</span> Stop
          </button>
        ) : (
          <button type="submit" className="send" disabled={!canSend} aria-label="Send message">
            <span aria-hidden="true">↑</span> Send
          </button>
        )}
      </div>
      <p id="composer-hint" className={tooLong ? "hint error" : "hint"}>
        {disabledReason
          ? disabledReason
          : tooLong
          ? `${text.length.toLocaleString()} / ${LIMITS.maxMessageChars.toLocaleString()} characters: shorten the message to send it.`
          : streaming
            ? "Esc or Stop ends the reply; the text so far is kept."
            : "Enter to send, Shift+Enter for a new line."}
      </p>
    </form>
  );
}
