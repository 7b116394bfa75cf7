import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { flushSync } from "react-dom";
import { authorizedFetch } from "../api/auth";
import type { AuthSession } from "../api/msalSession";
import { activeConversation, streamingMessageIn } from "../state/reducer";
import { download, fileName, toJson, toMarkdown } from "../state/exportChat";
import { useChat, type DeletedChat } from "../state/useChat";
import { applyTheme, readTheme, type Theme } from "../theme";
import { AuthControl } from "./AuthControl";
import { Composer } from "./Composer";
import { FirstRun } from "./FirstRun";
import { ShareDialog } from "./ShareDialog";
import { ShortcutsDialog } from "./ShortcutsDialog";
import { MessageList } from "./MessageList";
import { Sidebar } from "./Sidebar";
import { StorageNotice } from "./StorageNotice";
import { UndoToast } from "./UndoToast";

const SIDEBAR_ID = "conversation-sidebar";
const PHONE_QUERY = "(max-width: 720px)";

const focusComposer = () => document.getElementById("composer-input")?.focus();

/** Typing in these must not trigger single-key shortcuts ("?"). */
function isTextField(el: Element | null): boolean {
  return el instanceof HTMLTextAreaElement || (el instanceof HTMLInputElement && !["button", "checkbox", "radio"].includes(el.type)) || (el instanceof HTMLElement && el.isContentEditable);
}

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
  const [theme, setTheme] = useState<Theme>(readTheme);
  const [helpOpen, setHelpOpen] = useState(false);
  const [copyNotice, setCopyNotice] = useState("");
  const [sharing, setSharing] = useState<string | null>(null);
  const shareFetch = useMemo(() => authorizedFetch(auth), [auth]);

  // Phone-width drawer is modal: focus moves into it, Tab stays inside, the page behind is inert,
  // and Escape closes it and returns focus to ☰.
  useEffect(() => {
    if (!drawerModal) return;
    // Focus moves into the drawer, unless a shortcut already put it there (Ctrl+K → search).
    if (!sidebarRef.current?.contains(document.activeElement)) sidebarRef.current?.querySelector<HTMLElement>(".new-chat")?.focus();
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

  const newChat = useCallback(() => {
    chat.newChat();
    flushSync(closeSidebar);
    focusComposer();
  }, [chat.newChat, closeSidebar]);

  // Page-wide shortcuts. Esc stops this chat's reply from anywhere (controls that use Esc themselves, the
  // drawer, a menu, rename, the dialog, handle it first); single keys never fire while typing.
  const conversationId = conversation?.id;
  const stateRef = useRef(state);
  stateRef.current = state;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.shiftKey && e.key.toLowerCase() === "o") {
        e.preventDefault();
        newChat();
      } else if (mod && !e.shiftKey && e.key.toLowerCase() === "k") {
        e.preventDefault();
        if (phone) flushSync(() => setSidebarOpen(true));
        document.getElementById("chat-search")?.focus();
      } else if (e.key === "Escape" && e.shiftKey) {
        e.preventDefault();
        focusComposer();
      } else if (e.key === "Escape" && !drawerModal && !helpOpen && !sharing && conversationId && streamingMessageIn(stateRef.current, conversationId)) {
        e.preventDefault();
        chat.stop(conversationId);
      } else if (e.key === "?" && !mod && !isTextField(document.activeElement)) {
        e.preventDefault();
        setHelpOpen(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [newChat, phone, drawerModal, helpOpen, sharing, conversationId, chat.stop]);

  const chooseTheme = (next: Theme) => {
    setTheme(next);
    applyTheme(next);
  };

  const findChat = (id: string) => state.conversations.find((c) => c.id === id);
  const onExport = (id: string, format: "markdown" | "json") => {
    const c = findChat(id);
    if (!c) return;
    if (format === "markdown") download(fileName(c, "md"), "text/markdown;charset=utf-8", toMarkdown(c));
    else download(fileName(c, "json"), "application/json", toJson(c));
  };
  const onCopyMarkdown = (id: string) => {
    const c = findChat(id);
    if (!c) return;
    const text = toMarkdown(c);
    navigator.clipboard?.writeText(text).then(
      () => setCopyNotice(`Copied “${c.title}” as Markdown.`),
      () => setCopyNotice("Could not copy: the browser refused clipboard access."),
    );
  };

  const onShare = (id: string) => {
    // The phone's drawer traps focus itself: it closes first, so that the dialog has the focus to itself.
    flushSync(closeSidebar);
    setSharing(id);
  };
  const closeShare = () => {
    const id = sharing;
    setSharing(null);
    // Back to the chat's row (the menu item that opened the dialog is gone).
    requestAnimationFrame(() => sidebarRef.current?.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(id ?? "")}"]`)?.focus());
  };
  const sharedChat = sharing ? findChat(sharing) : undefined;

  const forget = chat.forgetDeleted;
  const dismissDeleted = useCallback(() => {
    setDeleted((d) => {
      // The Undo window is over: a reply still running in that chat stops now.
      if (d) forget(d.conversation.id);
      return null;
    });
  }, [forget]);

  const onDelete = (id: string) => {
    const list = [...(sidebarRef.current?.querySelectorAll<HTMLElement>(".conversation") ?? [])];
    const index = list.findIndex((el) => el.dataset.conversationId === id);
    const removed = chat.deleteChat(id);
    if (!removed) return;
    // Only one delete can be undone: an earlier one is final now.
    if (deleted) chat.forgetDeleted(deleted.conversation.id);
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
        onNew={newChat}
        onRename={chat.rename}
        onExport={onExport}
        onCopyMarkdown={onCopyMarkdown}
        onShare={auth ? onShare : undefined}
        shareDisabledReason={signedOut ? "Sign in to share a link" : undefined}
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
          <div className="header-tools">
            <label className="theme">
              <span className="visually-hidden">Theme</span>
              <select value={theme} onChange={(e) => chooseTheme(e.target.value as Theme)} aria-label="Theme">
                <option value="system">System theme</option>
                <option value="light">Light</option>
                <option value="dark">Dark</option>
              </select>
            </label>
            <button type="button" className="help-button" onClick={() => setHelpOpen(true)} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">
              <span aria-hidden="true">?</span>
            </button>
            {auth && <AuthControl session={auth} />}
          </div>
        </header>
        {/* The live region stays in the page so that the notice is announced when it appears; quiet, not an alert: nothing is lost. */}
        <div role="status" className="sync-status">
          {conversation && chat.tooLargeToSync.has(conversation.id) && (
            <p className="sync-notice" data-testid="too-large-to-sync">
              This chat is too large to sync to your other devices. It is kept in this browser.
            </p>
          )}
        </div>
        {chat.storage === "full" && (
          <StorageNotice conversations={state.conversations} onDelete={onDelete} onRetry={chat.retrySave} />
        )}
        <MessageList
          conversation={conversation}
          busy={streamingHere}
          onRestart={onRestart}
          onEdit={onEdit}
          onEditMessage={chat.editMessage}
          onSelectVersion={chat.selectVersion}
          empty={<FirstRun modelName={chat.modelName} disabled={signedOut} onPrompt={(text) => chat.send(text) && focusComposer()} />}
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
      {deleted && <UndoToast key={deleted.conversation.id} title={deleted.conversation.title} onUndo={onUndo} onDismiss={dismissDeleted} />}
      <ShortcutsDialog open={helpOpen} onClose={() => setHelpOpen(false)} />
      {sharedChat && auth && <ShareDialog key={sharedChat.id} conversation={sharedChat} apiBaseUrl={apiBaseUrl} apiFetch={shareFetch} onClose={closeShare} />}
      <div className="visually-hidden" role="status" aria-live="polite">
        {chat.announcement}
      </div>
      <div className="visually-hidden" role="status" aria-live="polite" data-testid="copy-status">
        {copyNotice}
      </div>
    </div>
  );
}
