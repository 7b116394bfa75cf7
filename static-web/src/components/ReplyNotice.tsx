import { failureLabel } from "../state/reducer";
import type { Message } from "../state/types";
import { MAX_RECONNECTS, MAX_RESUMES } from "../state/replyRunner";
import { secondsUntil, useNow } from "./useNow";

/** Why a reply is incomplete (or is being retried or resumed), shown under it. Returns null for a normal reply. */
export function ReplyNotice({ message, onSignIn }: { message: Message; onSignIn?: () => void }) {
  const counting = message.retryAt !== undefined && message.retryAt > Date.now();
  const now = useNow(counting);
  const wait = secondsUntil(message.retryAt, now);

  if (message.status === "streaming" && message.offline) {
    return (
      <p className="notice warning" data-notice="offline">
        <strong>Offline:</strong> the reply continues when the connection is back. The text so far is kept.
      </p>
    );
  }
  if (message.status === "streaming" && message.followed) {
    return (
      <p className="notice" data-notice="followed">
        This reply is being received in another tab of this browser; it is shown here as it arrives.
      </p>
    );
  }
  if (message.status === "streaming" && message.resuming) {
    // No reason: picked up after a reload, not after a drop.
    const what = message.reconnectReason ? <strong>Connection lost:</strong> : null;
    return (
      <p className="notice warning" data-notice="resuming">
        {what} {wait > 0 ? `Resuming the reply in ${wait} s` : "Resuming the reply"}
        {message.resumeAttempt ? ` (attempt ${message.resumeAttempt} of ${MAX_RESUMES})…` : "…"} The text so far is kept.
      </p>
    );
  }
  if (message.status === "streaming" && message.restartPending && message.reconnectReason) {
    const reason = message.reconnectReason;
    return (
      <p className="notice warning" data-notice="reconnecting">
        <strong>{failureLabel(reason)}:</strong> {reason.message}{" "}
        {wait > 0 ? `Asking again in ${wait} s` : "Asking again…"} (automatic retry {message.reconnects} of {MAX_RECONNECTS}).
      </p>
    );
  }

  const resumed = message.resumes ? (
    <p className="notice" data-notice="resumed">
      Resumed after {message.resumes === 1 ? "a dropped connection" : `${message.resumes} dropped connections`}; nothing was lost.
    </p>
  ) : null;

  const partial = message.content.trim() !== "";
  const partialLabel = partial ? <span className="badge">Partial reply</span> : null;
  const reconnects = message.reconnects ? ` Gave up after ${message.reconnects} automatic ${message.reconnects > 1 ? "retries" : "retry"}.` : "";

  if (message.status === "failed" && message.failure) {
    const f = message.failure;
    if (f.kind === "budget") {
      return (
        <p className="notice error" data-notice="budget">
          {partialLabel}
          {f.message}
        </p>
      );
    }
    if (f.kind === "incomplete") {
      return (
        <>
          {resumed}
          <p className="notice warning" data-notice="incomplete">
            {partialLabel}
            <strong>Incomplete:</strong> {f.message}
          </p>
        </>
      );
    }
    const what = failureLabel(f);
    return (
      <>
        {resumed}
        <p className="notice error" data-notice={f.kind}>
          {partialLabel}
          <strong>{what}:</strong> {f.message}
          {reconnects}
          {wait > 0 ? ` You can retry in ${wait} s.` : ""}
          {f.kind === "auth" && onSignIn && (
            <>
              {" "}
              <button type="button" className="action primary" onClick={onSignIn}>
                Sign in
              </button>
            </>
          )}
        </p>
      </>
    );
  }
  if (message.status === "stopped") {
    return (
      <p className="notice" data-notice="stopped">
        {partialLabel}
        Stopped.
      </p>
    );
  }
  if (message.status === "done" && message.finishReason === "length") {
    return (
      <p className="notice warning" data-notice="length">
        {partialLabel}
        <strong>Cut off:</strong> the reply reached the length limit.
      </p>
    );
  }
  if (message.status === "done" && message.finishReason === "content_filter") {
    return (
      <p className="notice warning" data-notice="content_filter">
        {partialLabel}
        <strong>Content filtered:</strong> the reply was stopped by the content filter.
      </p>
    );
  }
  return resumed;
}
