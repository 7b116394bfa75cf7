import { useRef } from "react";
import type { Conversation } from "../state/types";
import { MessageView } from "./MessageView";
import { useAutoScroll } from "./useAutoScroll";

interface Props {
  conversation: Conversation | undefined;
  busy: boolean;
  onRestart: (messageId: string) => void;
  onEdit: (messageId: string) => void;
  onSignIn?: () => void;
  onDismissAttempt: (messageId: string, index: number) => void;
}

export function MessageList({ conversation, busy, onRestart, onEdit, onSignIn, onDismissAttempt }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const messages = conversation?.messages ?? [];
  const { pinned, onScroll, jumpToLatest } = useAutoScroll(scroller, messages, conversation?.id);

  return (
    <div className="messages-wrap">
      {/* Focusable so keyboard users can scroll a long reply (no message may hold a focusable control yet); a region,
          not a live log, so a screen reader is not read every token. */}
      <div className="messages" ref={scroller} onScroll={onScroll} tabIndex={0} role="region" aria-label="Messages" data-testid="messages">
        {messages.length === 0 ? (
          <div className="empty">
            <h2>How can I help?</h2>
            <p>Replies stream in as they are written. Your chats stay in this browser.</p>
          </div>
        ) : (
          <div className="message-column">
            {messages.map((m, i) => (
              <MessageView key={m.id} message={m} isLast={i === messages.length - 1} busy={busy} onRestart={onRestart} onEdit={onEdit} onSignIn={onSignIn} onDismissAttempt={onDismissAttempt} />
            ))}
          </div>
        )}
      </div>
      {!pinned && (
        <button type="button" className="jump" onClick={jumpToLatest}>
          ↓ Jump to latest
        </button>
      )}
    </div>
  );
}
