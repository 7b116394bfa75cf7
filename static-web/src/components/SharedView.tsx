import { useCallback, useEffect, useState } from "react";
import { importSnapshot, readShare, type ReadResult } from "../api/shares";
import { openConversationStore } from "../state/persistence";
import { Markdown } from "./Markdown";

type View = { kind: "loading" } | ReadResult;

interface Props {
  apiBaseUrl: string;
  shareId: string;
  /** Where "Continue this chat" goes once the copy is stored: the chat page. */
  openChatPage?: () => void;
}

/**
 * A shared chat, read-only, for anyone with the link (no sign-in, no token): the title, a banner that says what this is,
 * the messages rendered like a chat's (model output through the same sanitizing markdown renderer), and "Continue this
 * chat", which copies it into this browser as a new chat. A revoked or unknown link, or a server out of reach, says so.
 */
export function SharedView({ apiBaseUrl, shareId, openChatPage = () => window.location.assign("/") }: Props) {
  const [view, setView] = useState<View>({ kind: "loading" });
  const [continuing, setContinuing] = useState<string | null>(null);

  const load = useCallback(
    (signal?: AbortSignal) => {
      setView({ kind: "loading" });
      readShare(apiBaseUrl, shareId, fetch, signal).then(
        (result) => !signal?.aborted && setView(result),
        () => {},
      );
    },
    [apiBaseUrl, shareId],
  );

  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal);
    // A shared chat is not for search engines: the link is for whom it was given to.
    const robots = document.createElement("meta");
    robots.name = "robots";
    robots.content = "noindex";
    document.head.append(robots);
    return () => {
      controller.abort();
      robots.remove();
    };
  }, [load]);

  const title = view.kind === "ok" ? view.snapshot.title?.trim() || "Shared chat" : "Shared chat";
  useEffect(() => {
    document.title = `${title} · Shared chat`;
  }, [title]);

  const onContinue = async () => {
    if (view.kind !== "ok") return;
    setContinuing("Copying the chat into this browser…");
    try {
      const conversation = importSnapshot(view.snapshot);
      const store = await openConversationStore();
      await store.save({ put: [conversation], remove: [], activeId: conversation.id });
      openChatPage();
    } catch {
      setContinuing("This browser cannot keep chats (private mode or storage turned off), so the chat cannot be continued here.");
    }
  };

  return (
    <div className="shared-page">
      <header className="shared-header">
        <h1>{title}</h1>
        <a className="action" href="/">
          Open the chat page
        </a>
      </header>
      <main className="shared-main" aria-busy={view.kind === "loading"}>
        {view.kind === "loading" && (
          <p className="shared-progress" role="status">
            Loading the shared chat…
          </p>
        )}
        {view.kind === "gone" && (
          <section className="shared-problem" role="alert" data-testid="share-gone">
            <h2>This shared chat is not available</h2>
            <p>Its owner stopped sharing it, or the link is mistyped. Ask whoever sent it for a new link.</p>
          </section>
        )}
        {view.kind === "unavailable" && (
          <section className="shared-problem" role="alert" data-testid="share-unavailable">
            <h2>The shared chat could not be loaded</h2>
            <p>{view.message}</p>
            <button type="button" className="action primary" onClick={() => load()}>
              Try again
            </button>
          </section>
        )}
        {view.kind === "ok" && (
          <>
            <p className="shared-banner" data-testid="shared-banner">
              <strong>Shared conversation</strong> · a read-only copy
              {view.snapshot.createdAt > 0 && ` from ${new Date(view.snapshot.createdAt).toLocaleDateString(undefined, { dateStyle: "medium" })}`}. Replies
              were written by an AI model and may be wrong.
            </p>
            <div className="message-column shared-messages">
              {view.snapshot.messages.map((m, i) =>
                m.role === "user" ? (
                  <article key={i} className="message user" aria-label="Question">
                    <div className="bubble">{m.content}</div>
                  </article>
                ) : (
                  <article key={i} className="message assistant done" aria-label="Reply">
                    <div className="reply">
                      <Markdown text={m.content} complete />
                    </div>
                  </article>
                ),
              )}
            </div>
            <div className="shared-actions">
              <button type="button" className="action primary" onClick={() => void onContinue()} disabled={continuing !== null && continuing.endsWith("…")}>
                Continue this chat
              </button>
              <p role="status" className="shared-continue-status">
                {continuing}
              </p>
            </div>
          </>
        )}
      </main>
    </div>
  );
}
