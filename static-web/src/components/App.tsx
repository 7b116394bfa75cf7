import { useCallback, useEffect, useRef, useState } from "react";
import { activeConversation } from "../state/reducer";
import { useChat } from "../state/useChat";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";
import { Sidebar } from "./Sidebar";

const SIDEBAR_ID = "conversation-sidebar";

export function App({ apiBaseUrl }: { apiBaseUrl: string }) {
  const chat = useChat(apiBaseUrl);
  const { state } = chat;
  const conversation = activeConversation(state);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const closeSidebar = useCallback(() => setSidebarOpen(false), []);
  const menuButton = useRef<HTMLButtonElement>(null);

  // Phone-width drawer: focus moves into it when it opens; Escape closes it and returns focus to ☰.
  useEffect(() => {
    if (!sidebarOpen) return;
    document.querySelector<HTMLElement>(`#${SIDEBAR_ID} .new-chat`)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      setSidebarOpen(false);
      menuButton.current?.focus();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [sidebarOpen]);

  useEffect(() => {
    document.title = conversation ? `${conversation.title} · Chat` : "Chat";
  }, [conversation?.title]);

  const focusComposer = () => document.getElementById("composer-input")?.focus();

  return (
    <div className="app">
      <a className="skip-link" href="#composer-input">
        Skip to message box
      </a>
      <Sidebar
        id={SIDEBAR_ID}
        open={sidebarOpen}
        conversations={state.conversations}
        activeId={state.activeId}
        streamingId={state.streaming?.conversationId ?? null}
        stats={state.stats}
        onNew={() => {
          chat.newChat();
          closeSidebar();
          focusComposer();
        }}
        onSelect={(id) => {
          chat.selectChat(id);
          closeSidebar();
        }}
        onDelete={chat.deleteChat}
        onClose={closeSidebar}
      />
      <main className="chat">
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
        </header>
        <MessageList conversation={conversation} busy={state.streaming !== null} onRestart={chat.restart} />
        <Composer streaming={state.streaming !== null} onSend={chat.send} onStop={chat.stop} />
      </main>
      <div className="visually-hidden" role="status" aria-live="polite">
        {chat.announcement}
      </div>
    </div>
  );
}
