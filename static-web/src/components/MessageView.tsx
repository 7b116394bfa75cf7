import { memo } from "react";
import type { Message } from "../state/types";
import { Markdown } from "./Markdown";
import { ReplyMetrics } from "./ReplyMetrics";
import { ReplyNotice } from "./ReplyNotice";
import { useCopy } from "./useCopy";

interface Props {
  message: Message;
  /** Only the last reply can be regenerated or retried (the server is stateless: it re-asks that turn). */
  isLast: boolean;
  busy: boolean;
  onRestart: (messageId: string) => void;
}

/** Memoized: during streaming only the message whose object changed re-renders. */
export const MessageView = memo(function MessageView({ message, isLast, busy, onRestart }: Props) {
  if (message.role === "user") {
    return (
      <article className="message user" aria-label="You said">
        <div className="bubble">{message.content}</div>
      </article>
    );
  }
  return <AssistantMessage message={message} isLast={isLast} busy={busy} onRestart={onRestart} />;
});

function AssistantMessage({ message, isLast, busy, onRestart }: Props) {
  const [copied, copy] = useCopy();
  const streaming = message.status === "streaming";
  const waiting = streaming && message.content === "";
  const incomplete =
    message.status === "failed" ||
    message.status === "stopped" ||
    message.finishReason === "length" ||
    message.finishReason === "content_filter";
  const classes = ["message", "assistant", message.status ?? "done"];
  if (incomplete && message.content.trim()) classes.push("partial");
  if (message.restartPending) classes.push("stale");
  const failedOrStopped = message.status === "failed" || message.status === "stopped";
  const retryBlocked = message.retryAt !== undefined && message.retryAt > Date.now();

  return (
    <article className={classes.join(" ")} aria-label="Assistant replied" data-status={message.status}>
      {/* aria-busy holds screen-reader announcements until the reply is complete; then it is read once. */}
      <div className="reply" aria-live="polite" aria-busy={streaming}>
        {waiting ? (
          <div className="typing" role="img" aria-label="Assistant is thinking">
            <span />
            <span />
            <span />
          </div>
        ) : (
          <Markdown text={message.content} complete={!streaming} />
        )}
      </div>
      <ReplyNotice message={message} />
      {!streaming && (
        <div className="message-footer">
          <ReplyMetrics metrics={message.metrics} />
          <div className="actions">
            {message.content && (
              <button type="button" className="action" onClick={() => copy(message.content)}>
                {copied ? "Copied" : "Copy"}
              </button>
            )}
            {isLast && !failedOrStopped && (
              <button type="button" className="action" onClick={() => onRestart(message.id)} disabled={busy}>
                Regenerate
              </button>
            )}
            {isLast && failedOrStopped && (
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
