import { useRef, type ReactNode } from "react";
import type { Conversation, Message } from "../state/types";
import { MessageView } from "./MessageView";
import { useAutoScroll } from "./useAutoScroll";

interface Props {
  conversation: Conversation | undefined;
  busy: boolean;
  onRestart: (messageId: string) => void;
  onEdit: (messageId: string) => void;
  onEditMessage: (messageId: string, text: string) => boolean;
  onSelectVersion: (messageId: string, index: number) => void;
  /** Shown while the chat is empty (first run): starter prompts and the model's name. */
  empty: ReactNode;
  onSignIn?: () => void;
  onDismissAttempt: (messageId: string, index: number) => void;
}

export function MessageList({ conversation, busy, onRestart, onEdit, onEditMessage, onSelectVersion, empty, onSignIn, onDismissAttempt }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const messages = conversation?.messages ?? [];
  // A new question (send, edit) is the user's own action: the view goes to it, even when scrolled up.
  let lastQuestion: Message | undefined;
  for (let i = messages.length - 1; i >= 0 && !lastQuestion; i--) if (messages[i].role === "user") lastQuestion = messages[i];
  const { pinned, onScroll, jumpToLatest } = useAutoScroll(scroller, messages, conversation?.id, lastQuestion ? `${lastQuestion.id}:${lastQuestion.createdAt}` : undefined);

  return (
    <div className="messages-wrap">
      {/* Focusable so keyboard users can scroll a long reply (no message may hold a focusable control yet); a region,
          not a live log, so a screen reader is not read every token. */}
      <div className="messages" ref={scroller} onScroll={onScroll} tabIndex={0} role="region" aria-label="Messages" data-testid="messages">
        {messages.length === 0 ? (
          empty
        ) : (
          <div className="message-column">
            {messages.map((m, i) => (
              <MessageView
                key={m.id}
                message={m}
                isLast={i === messages.length - 1}
                busy={busy}
                onRestart={onRestart}
                onEdit={onEdit}
                onEditMessage={onEditMessage}
                onSelectVersion={onSelectVersion}
                onSignIn={onSignIn}
                onDismissAttempt={onDismissAttempt}
              />
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
