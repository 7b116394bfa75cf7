import type { Ref } from "react";
import type { Conversation, SessionStats } from "../state/types";
import { StatsPanel } from "./StatsPanel";

interface Props {
  ref?: Ref<HTMLElement>;
  id: string;
  open: boolean;
  /** Phone-width drawer that is open: a modal dialog over the inert page. */
  modal: boolean;
  conversations: Conversation[];
  activeId: string | null;
  /** Message id → conversation id of the replies streaming now. */
  streaming: Record<string, string>;
  stats: SessionStats;
  onNew: () => void;
  onSelect: (id: string) => void;
  onDelete: (id: string) => void;
  onClose: () => void;
}

export function Sidebar({ ref, id, open, modal, conversations, activeId, streaming, stats, onNew, onSelect, onDelete, onClose }: Props) {
  const replying = new Set(Object.values(streaming));
  return (
    <>
      <nav
        ref={ref}
        id={id}
        className={open ? "sidebar open" : "sidebar"}
        aria-label="Conversations"
        role={modal ? "dialog" : undefined}
        aria-modal={modal || undefined}
      >
        <button type="button" className="new-chat" onClick={onNew}>
          + New chat
        </button>
        {conversations.length === 0 ? (
          <p className="sidebar-empty">No conversations yet.</p>
        ) : (
          <ul className="conversation-list">
            {conversations.map((c) => (
              <li key={c.id} className={c.id === activeId ? "active" : undefined}>
                <button
                  type="button"
                  className="conversation"
                  data-conversation-id={c.id}
                  onClick={() => onSelect(c.id)}
                  aria-current={c.id === activeId ? "page" : undefined}
                  title={c.title}
                >
                  {c.title}
                  {replying.has(c.id) && (
                    <>
                      <span className="replying-dot" aria-hidden="true" />
                      <span className="visually-hidden"> (replying)</span>
                    </>
                  )}
                </button>
                <button type="button" className="delete" onClick={() => onDelete(c.id)} aria-label={`Delete conversation: ${c.title}`}>
                  <span aria-hidden="true">×</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <StatsPanel stats={stats} />
        {modal && (
          <button type="button" className="close-drawer" onClick={onClose}>
            Close
          </button>
        )}
      </nav>
      {open && <div className="scrim" onClick={onClose} aria-hidden="true" />}
    </>
  );
}
