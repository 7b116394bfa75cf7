import type { Conversation, SessionStats } from "../state/types";
import { StatsPanel } from "./StatsPanel";

interface Props {
  id: string;
  open: boolean;
  conversations: Conversation[];
  activeId: string | null;
  streamingId: string | null;
  stats: SessionStats;
  onNew: () => void;
  onSelect: (id: string) => void;
  onDelete: (id: string) => void;
  onClose: () => void;
}

export function Sidebar({ id, open, conversations, activeId, streamingId, stats, onNew, onSelect, onDelete, onClose }: Props) {
  return (
    <>
      <nav id={id} className={open ? "sidebar open" : "sidebar"} aria-label="Conversations">
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
                  onClick={() => onSelect(c.id)}
                  aria-current={c.id === activeId ? "page" : undefined}
                  title={c.title}
                >
                  {c.title}
                  {c.id === streamingId && <span className="visually-hidden"> (replying)</span>}
                </button>
                <button type="button" className="delete" onClick={() => onDelete(c.id)} aria-label={`Delete conversation: ${c.title}`}>
                  <span aria-hidden="true">×</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <StatsPanel stats={stats} />
      </nav>
      {open && <div className="scrim" onClick={onClose} aria-hidden="true" />}
    </>
  );
}
