import { useCallback, useEffect, useRef, useState } from "react";
import { flushSync } from "react-dom";
import type { AuthSession } from "../api/msalSession";
import { activeConversation, streamingMessageIn } from "../state/reducer";
import { useChat, type DeletedChat } from "../state/useChat";
import { AuthControl } from "./AuthControl";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";
import { Sidebar } from "./Sidebar";
import { StorageNotice } from "./StorageNotice";
import { UndoToast } from "./UndoToast";

const SIDEBAR_ID = "conversation-sidebar";
const PHONE_QUERY = "(max-width: 720px)";

const focusComposer = () => document.getElementById("composer-input")?.focus();

function useIsPhone(): boolean {
  const [phone, setPhone] = useState(() => typeof matchMedia !== "undefined" && matchMedia(PHONE_QUERY).matches);
  useEffect(() => {
    const query = matchMedia(PHONE_QUERY);
    const update = () => setPhone(query.matches);
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  return phone;
}

export function App({ apiBaseUrl, auth = null }: { apiBaseUrl: string; auth?: AuthSession | null }) {
  const chat = useChat(apiBaseUrl, auth);
  const { state } = chat;
  const conversation = activeConversation(state);
  const streamingHere = streamingMessageIn(state, conversation?.id) !== undefined;
  const [draft, setDraft] = useState("");
  const [deleted, setDeleted] = useState<DeletedChat | null>(null);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const phone = useIsPhone();
  const drawerModal = sidebarOpen && phone;
  const closeSidebar = useCallback(() => setSidebarOpen(false), []);
  const menuButton = useRef<HTMLButtonElement>(null);
  // The page behind the drawer is inert until the drawer closes: render that first, then focus ☰.
  const closeSidebarToMenu = useCallback(() => {
    flushSync(() => setSidebarOpen(false));
    menuButton.current?.focus();
  }, []);
  const sidebarRef = useRef<HTMLElement>(null);
  const signedOut = auth !== null && auth.account === null;

  // Phone-width drawer is modal: focus moves into it, Tab stays inside, the page behind is inert,
  // and Escape closes it and returns focus to ☰.
  useEffect(() => {
    if (!drawerModal) return;
    sidebarRef.current?.querySelector<HTMLElement>(".new-chat")?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        closeSidebarToMenu();
        return;
      }
      if (e.key !== "Tab" || !sidebarRef.current) return;
      const focusable = [...sidebarRef.current.querySelectorAll<HTMLElement>("button:not([disabled]), [href], [tabindex]:not([tabindex='-1'])")];
      if (focusable.length === 0) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      const inside = sidebarRef.current.contains(document.activeElement);
      if (e.shiftKey && (document.activeElement === first || !inside)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
        e.preventDefault();
        first.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [drawerModal, closeSidebarToMenu]);

  useEffect(() => {
    document.title = conversation ? `${conversation.title} · Chat` : "Chat";
  }, [conversation?.title]);

  const onDelete = (id: string) => {
    const list = [...(sidebarRef.current?.querySelectorAll<HTMLElement>(".conversation") ?? [])];
    const index = state.conversations.findIndex((c) => c.id === id);
    const removed = chat.deleteChat(id);
    if (!removed) return;
    setDeleted(removed);
    // Focus goes to the conversation that takes the deleted one's place (or the one above, or New chat).
    const next = list[index + 1] ?? list[index - 1];
    requestAnimationFrame(() => (next?.isConnected ? next : sidebarRef.current?.querySelector<HTMLElement>(".new-chat"))?.focus());
  };

  const onUndo = () => {
    if (!deleted) return;
    chat.undoDelete(deleted);
    const id = deleted.conversation.id;
    setDeleted(null);
    requestAnimationFrame(() => sidebarRef.current?.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(id)}"]`)?.focus());
  };

  const onRestart = (messageId: string) => {
    chat.restart(messageId);
    // The Regenerate/Retry button is gone while the reply streams; the message box is where Esc stops it.
    focusComposer();
  };

  const onEdit = (messageId: string) => {
    const text = chat.editLastTurn(messageId);
    if (text === undefined) return;
    setDraft(text);
    requestAnimationFrame(() => {
      const input = document.getElementById("composer-input") as HTMLTextAreaElement | null;
      input?.focus();
      input?.setSelectionRange(input.value.length, input.value.length);
    });
  };

  return (
    <div className="app" data-storage={chat.storage}>
      <a className="skip-link" href="#composer-input" inert={drawerModal}>
        Skip to message box
      </a>
      <Sidebar
        ref={sidebarRef}
        id={SIDEBAR_ID}
        open={sidebarOpen}
        modal={drawerModal}
        conversations={state.conversations}
        activeId={state.activeId}
        streaming={state.streaming}
        stats={state.stats}
        onNew={() => {
          chat.newChat();
          flushSync(closeSidebar);
          focusComposer();
        }}
        onSelect={(id) => {
          chat.selectChat(id);
          if (!phone) return;
          flushSync(closeSidebar);
          focusComposer();
        }}
        onDelete={onDelete}
        onClose={closeSidebarToMenu}
      />
      <main className="chat" inert={drawerModal}>
        <header className="chat-header">
          <button
            ref={menuButton}
            type="button"
            className="menu"
            aria-expanded={sidebarOpen}
            aria-controls={SIDEBAR_ID}
            onClick={() => setSidebarOpen((o) => !o)}
          >
            <span aria-hidden="true">☰</span>
            <span className="visually-hidden">Conversations</span>
          </button>
          <h1>{conversation?.title ?? "New chat"}</h1>
          {auth && <AuthControl session={auth} />}
        </header>
        {chat.storage === "full" && (
          <StorageNotice conversations={state.conversations} onDelete={onDelete} onRetry={chat.retrySave} />
        )}
        <MessageList
          conversation={conversation}
          busy={streamingHere}
          onRestart={onRestart}
          onEdit={onEdit}
          onSignIn={auth ? () => void auth.signIn() : undefined}
          onDismissAttempt={chat.dismissAttempt}
        />
        <Composer
          text={draft}
          onTextChange={setDraft}
          streaming={streamingHere}
          disabledReason={signedOut ? "Sign in to send messages." : undefined}
          onSend={(text) => chat.send(text)}
          onStop={() => conversation && chat.stop(conversation.id)}
        />
      </main>
      {deleted && <UndoToast key={deleted.conversation.id} title={deleted.conversation.title} onUndo={onUndo} onDismiss={() => setDeleted(null)} />}
      <div className="visually-hidden" role="status" aria-live="polite">
        {chat.announcement}
      </div>
    </div>
  );
}
