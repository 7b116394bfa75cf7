import { useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type Ref } from "react";
import { groupByDate, highlight, searchConversations } from "../state/chatList";
import type { Conversation, SessionStats } from "../state/types";
import { RowMenu } from "./RowMenu";
import { StatsPanel } from "./StatsPanel";
import { useNow } from "./useNow";

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
  onRename: (id: string, title: string) => void;
  onExport: (id: string, format: "markdown" | "json") => void;
  onCopyMarkdown: (id: string) => void;
  /** "Share link…"; absent where the deployment has no sign-in (a link needs an owner who can stop sharing it). */
  onShare?: (id: string) => void;
  /** Set while sharing is possible only after signing in: the item shows disabled with this reason. */
  shareDisabledReason?: string;
  onClose: () => void;
}

/** The list regroups at most this often (a chat moves from Today to Yesterday at midnight). */
const REGROUP_MS = 60_000;

function Highlighted({ text, query }: { text: string; query: string }) {
  return (
    <>
      {highlight(text, query).map((part, i) => (part.match ? <mark key={i}>{part.text}</mark> : part.text))}
    </>
  );
}

/** The title as an input: Enter or leaving it saves, Esc cancels; focus goes back to the row. */
function RenameField({ title, onDone }: { title: string; onDone: (title: string | null) => void }) {
  const [value, setValue] = useState(title);
  const input = useRef<HTMLInputElement>(null);
  const finished = useRef(false);
  useLayoutEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  const finish = (result: string | null) => {
    if (finished.current) return;
    finished.current = true;
    onDone(result);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter") {
      e.preventDefault();
      finish(value);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      e.nativeEvent.stopImmediatePropagation();
      finish(null);
    }
  };
  return (
    <input
      ref={input}
      className="rename"
      aria-label="Chat title"
      value={value}
      maxLength={100}
      onChange={(e) => setValue(e.target.value)}
      onKeyDown={onKeyDown}
      onBlur={() => finish(value)}
    />
  );
}

export function Sidebar({ ref, id, open, modal, conversations, activeId, streaming, stats, onNew, onSelect, onDelete, onRename, onExport, onCopyMarkdown, onShare, shareDisabledReason, onClose }: Props) {
  const replying = new Set(Object.values(streaming));
  const [query, setQuery] = useState("");
  const [renaming, setRenaming] = useState<string | null>(null);
  const now = useNow(true, REGROUP_MS);
  const searching = query.trim() !== "";
  const hits = useMemo(() => (searching ? searchConversations(conversations, query) : []), [conversations, query, searching]);
  const groups = useMemo(() => groupByDate(conversations, now), [conversations, now]);
  const excerpts = new Map(hits.map((h) => [h.conversation.id, h.excerpt]));
  const listRef = useRef<HTMLDivElement>(null);

  // Back from renaming: focus the row again (keyboard users stay where they were).
  const lastRenamed = useRef<string | null>(null);
  useEffect(() => {
    if (renaming !== null || !lastRenamed.current) return;
    listRef.current?.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(lastRenamed.current)}"]`)?.focus();
    lastRenamed.current = null;
  }, [renaming]);

  const row = (c: Conversation) => (
    <li key={c.id} className={c.id === activeId ? "active" : undefined}>
      {renaming === c.id ? (
        <RenameField
          title={c.title}
          onDone={(title) => {
            if (title !== null && title.trim() !== "" && title.trim() !== c.title) onRename(c.id, title);
            lastRenamed.current = c.id;
            setRenaming(null);
          }}
        />
      ) : (
        <button
          type="button"
          className="conversation"
          data-conversation-id={c.id}
          onClick={() => onSelect(c.id)}
          aria-current={c.id === activeId ? "page" : undefined}
          title={c.title}
        >
          {/* A fixed slot before the title: the replying dot is never pushed out by a long title. */}
          <span className="row-status" aria-hidden="true">
            {replying.has(c.id) && <span className="replying-dot" data-testid="replying-dot" />}
          </span>
          <span className="conversation-text">
            <span className="conversation-title">{searching ? <Highlighted text={c.title} query={query} /> : c.title}</span>
            {searching && excerpts.get(c.id) && (
              <span className="conversation-excerpt">
                <Highlighted text={excerpts.get(c.id)!} query={query} />
              </span>
            )}
          </span>
          {replying.has(c.id) && <span className="visually-hidden"> (replying)</span>}
        </button>
      )}
      <RowMenu
        label={`Options for ${c.title}`}
        items={[
          { label: "Rename", onSelect: () => setRenaming(c.id) },
          { label: "Copy as Markdown", onSelect: () => onCopyMarkdown(c.id) },
          { label: "Export Markdown", onSelect: () => onExport(c.id, "markdown") },
          { label: "Export JSON", onSelect: () => onExport(c.id, "json") },
          ...(onShare ? [{ label: "Share link…", onSelect: () => onShare(c.id), disabledReason: shareDisabledReason }] : []),
          { label: "Delete", onSelect: () => onDelete(c.id), danger: true },
        ]}
      />
    </li>
  );

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
        {conversations.length > 0 && (
          <div className="search" role="search">
            <label htmlFor="chat-search" className="visually-hidden">
              Search chats
            </label>
            <input
              id="chat-search"
              type="search"
              placeholder="Search chats"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape" && query) {
                  e.preventDefault();
                  e.stopPropagation();
                  e.nativeEvent.stopImmediatePropagation();
                  setQuery("");
                }
              }}
              autoComplete="off"
            />
          </div>
        )}
        <div className="conversation-groups" ref={listRef}>
          {conversations.length === 0 ? (
            <p className="sidebar-empty">No conversations yet.</p>
          ) : searching ? (
            hits.length === 0 ? (
              <p className="sidebar-empty">No chats match “{query.trim()}”.</p>
            ) : (
              <ul className="conversation-list" aria-label="Search results">
                {hits.map((h) => row(h.conversation))}
              </ul>
            )
          ) : (
            groups.map((g) => (
              <section key={g.key} className="conversation-group" aria-labelledby={`group-${g.key}`}>
                <h2 className="group-label" id={`group-${g.key}`}>
                  {g.label}
                </h2>
                <ul className="conversation-list">{g.conversations.map(row)}</ul>
              </section>
            ))
          )}
          <p className="visually-hidden" role="status">
            {searching ? `${hits.length} ${hits.length === 1 ? "chat" : "chats"} found.` : ""}
          </p>
        </div>
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
