import { memo, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import type { Message } from "../state/types";
import { Markdown } from "./Markdown";
import { ReplyMetrics } from "./ReplyMetrics";
import { ReplyNotice } from "./ReplyNotice";
import { useCopy } from "./useCopy";
import { useNow } from "./useNow";

interface Props {
  message: Message;
  /** Only the last reply can be retried (a failed or stopped one); any finished reply can be regenerated. */
  isLast: boolean;
  busy: boolean;
  onRestart: (messageId: string) => void;
  /** Sends an edited question: the turns after it branch off, the old ones stay as a version. */
  onEditMessage: (messageId: string, text: string) => boolean;
  onSelectVersion: (messageId: string, index: number) => void;
  /** A refused request (4xx) cannot succeed as it is: Edit puts its text back in the box. */
  onEdit: (messageId: string) => void;
  onSignIn?: () => void;
  onDismissAttempt: (messageId: string, index: number) => void;
}

/** The request itself was refused (too long, invalid…): re-sending it unchanged cannot succeed. */
export function isRefused(message: Message): boolean {
  const f = message.failure;
  return message.status === "failed" && f?.kind === "http" && f.status !== undefined && f.status >= 400 && f.status < 500 && !f.retryable;
}

/** Memoized: during streaming only the message whose object changed re-renders. */
export const MessageView = memo(function MessageView(props: Props) {
  if (props.message.role === "user") return <UserMessage {...props} />;
  return <AssistantMessage {...props} />;
});

/** "‹ 2 / 3 ›": switches between the versions of a message (edits of a question, regenerated replies). */
function VersionSwitcher({ message, busy, onSelectVersion, what }: Pick<Props, "message" | "busy" | "onSelectVersion"> & { what: string }) {
  const count = (message.versions?.length ?? 0) + 1;
  if (count < 2) return null;
  const index = message.versionIndex ?? 0;
  return (
    <div className="versions" role="group" aria-label={`${what} versions`}>
      <button type="button" className="version-step" onClick={() => onSelectVersion(message.id, index - 1)} disabled={busy || index === 0} aria-label={`Previous ${what.toLowerCase()} version`}>
        <span aria-hidden="true">‹</span>
      </button>
      <span className="version-count" data-testid="version-count">
        {index + 1} / {count}
      </span>
      <button type="button" className="version-step" onClick={() => onSelectVersion(message.id, index + 1)} disabled={busy || index === count - 1} aria-label={`Next ${what.toLowerCase()} version`}>
        <span aria-hidden="true">›</span>
      </button>
    </div>
  );
}

/** A question: Edit turns it into a box; sending the edit branches the chat from here. */
function UserMessage({ message, busy, onEditMessage, onSelectVersion }: Props) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const box = useRef<HTMLTextAreaElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const boxId = useId();
  useLayoutEffect(() => {
    if (!editing || !box.current) return;
    box.current.focus();
    box.current.setSelectionRange(box.current.value.length, box.current.value.length);
  }, [editing]);
  const cancel = () => {
    setEditing(false);
    requestAnimationFrame(() => editButton.current?.focus());
  };
  const submit = () => {
    if (draft.trim() === "" || draft.trim() === message.content) return cancel();
    if (onEditMessage(message.id, draft)) setEditing(false);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  };
  if (editing) {
    return (
      <article className="message user editing" aria-label="Edit your message">
        <label htmlFor={boxId} className="visually-hidden">
          Edit message
        </label>
        <textarea id={boxId} ref={box} className="edit-box" value={draft} rows={3} onChange={(e) => setDraft(e.target.value)} onKeyDown={onKeyDown} />
        <div className="actions">
          <button type="button" className="action" onClick={cancel}>
            Cancel
          </button>
          <button type="button" className="action primary" onClick={submit} disabled={busy || draft.trim() === ""}>
            Send
          </button>
        </div>
      </article>
    );
  }
  return (
    <article className="message user" aria-label="You said">
      <div className="bubble">{message.content}</div>
      <div className="user-actions">
        <VersionSwitcher message={message} busy={busy} onSelectVersion={onSelectVersion} what="Message" />
        <button
          ref={editButton}
          type="button"
          className="action edit-message"
          onClick={() => {
            setDraft(message.content);
            setEditing(true);
          }}
          disabled={busy}
          aria-label="Edit message"
        >
          Edit
        </button>
      </div>
    </article>
  );
}

/** Text of earlier attempts at this turn: finished markdown, labelled with why it ended, until dismissed. */
const PreviousAttempts = memo(function PreviousAttempts({
  messageId,
  attempts,
  onDismiss,
}: {
  messageId: string;
  attempts: NonNullable<Message["previousAttempts"]>;
  onDismiss: (messageId: string, index: number) => void;
}) {
  return (
    <>
      {attempts.map((attempt, i) => (
        <section className="previous-attempt" key={i} aria-label={`Previous attempt ${i + 1}`} data-previous-attempt={i}>
          <p className="notice previous-attempt-reason">
            <span className="badge">Previous attempt</span>
            {attempt.reason}{" "}
            <button type="button" className="action" onClick={() => onDismiss(messageId, i)} aria-label={`Dismiss previous attempt ${i + 1}`}>
              Dismiss
            </button>
          </p>
          <div className="attempt-text">
            <Markdown text={attempt.content} complete />
          </div>
        </section>
      ))}
    </>
  );
});

function AssistantMessage({ message, isLast, busy, onRestart, onEdit, onSignIn, onDismissAttempt, onSelectVersion }: Props) {
  const [copied, copy] = useCopy();
  const streaming = message.status === "streaming";
  const waiting = streaming && message.content === "";
  // The model accepted the request and is thinking; a reconnect in progress is shown by the notice instead.
  const thinking = waiting && message.thinkingSince !== undefined && !message.resuming && !message.restartPending;
  const incomplete =
    message.status === "failed" ||
    message.failure?.kind === "incomplete" ||
    message.status === "stopped" ||
    message.finishReason === "length" ||
    message.finishReason === "content_filter";
  const classes = ["message", "assistant", message.status ?? "done"];
  if (incomplete && message.content.trim()) classes.push("partial");
  if (message.resuming || message.offline) classes.push("stale");
  const failedOrStopped = message.status === "failed" || message.status === "stopped";
  const retryBlocked = message.retryAt !== undefined && message.retryAt > Date.now();
  const refused = isRefused(message);
  // A spent daily budget will not come back on Retry; the notice says when it resets.
  const canRetry = failedOrStopped && !refused && message.failure?.kind !== "budget";

  return (
    <article className={classes.join(" ")} aria-label="Assistant replied" data-status={message.status}>
      {message.previousAttempts && (
        <PreviousAttempts messageId={message.id} attempts={message.previousAttempts} onDismiss={onDismissAttempt} />
      )}
      {/* aria-busy holds screen-reader announcements until the reply is complete; then it is read once. */}
      <div className="reply" aria-live="polite" aria-busy={streaming}>
        {thinking ? (
          <ThinkingIndicator since={message.thinkingSince!} />
        ) : waiting ? (
          <div className="typing" role="img" aria-label="Waiting for the reply">
            <span />
            <span />
            <span />
          </div>
        ) : (
          <Markdown text={message.content} complete={!streaming} />
        )}
      </div>
      {message.reasoning && (
        // Collapsed: the summary is there for who wants it, the reply stays what is read first.
        <details className="reasoning">
          <summary>Thinking</summary>
          <Markdown text={message.reasoning} complete={!streaming} />
        </details>
      )}
      <ReplyNotice message={message} onSignIn={onSignIn} />
      {!streaming && (
        <div className="message-footer">
          <VersionSwitcher message={message} busy={busy} onSelectVersion={onSelectVersion} what="Reply" />
          <ReplyMetrics metrics={message.metrics} />
          <div className="actions">
            {message.content && (
              <button type="button" className="action" onClick={() => copy(message.content)}>
                {copied ? "Copied" : "Copy"}
              </button>
            )}
            {message.status === "done" && (
              <button type="button" className="action" onClick={() => onRestart(message.id)} disabled={busy}>
                Regenerate
              </button>
            )}
            {isLast && refused && (
              <button type="button" className="action primary" onClick={() => onEdit(message.id)} disabled={busy}>
                Edit
              </button>
            )}
            {isLast && canRetry && (
              <button type="button" className="action primary" onClick={() => onRestart(message.id)} disabled={busy} title={retryBlocked ? "The server asked to wait; retrying now may be refused." : undefined}>
                Retry
              </button>
            )}
          </div>
        </div>
      )}
    </article>
  );
}

/** "Thinking… 4 s": the model accepted the request and reasons before its first token (not the network). */
function ThinkingIndicator({ since }: { since: number }) {
  const now = useNow(true, 250);
  const seconds = Math.max(0, Math.floor((now - since) / 1000));
  return (
    <p className="thinking" data-thinking-seconds={seconds}>
      Thinking… {seconds} s
    </p>
  );
}
