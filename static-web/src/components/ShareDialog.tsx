import { useCallback, useEffect, useRef, useState } from "react";
import { absoluteLink, createShare, listShares, revokeShare, ShareError, type Share } from "../api/shares";
import type { Conversation } from "../state/types";
import { useCopy } from "./useCopy";

type View =
  | { kind: "loading" }
  | { kind: "none" }
  | { kind: "shared"; share: Share; others: Share[] }
  | { kind: "error"; message: string; retry: () => void };

interface Props {
  conversation: Conversation;
  apiBaseUrl: string;
  /** Sends the signed-in user's token. */
  apiFetch: typeof fetch;
  onClose: () => void;
}

const when = (ms: number) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

/**
 * "Share link…": a modal <dialog> (the browser keeps focus inside and closes it on Esc) that shows the chat's link when
 * it is shared, or creates one; Copy puts the link on the clipboard, Stop sharing revokes it. Every change is said in
 * the dialog's status line, which screen readers announce.
 */
export function ShareDialog({ conversation, apiBaseUrl, apiFetch, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [view, setView] = useState<View>({ kind: "loading" });
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState("");
  const [copied, copy] = useCopy();
  const controller = useRef(new AbortController());

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
    const abort = controller.current;
    return () => {
      abort.abort();
      if (el?.open) el.close();
    };
  }, []);

  const failed = (error: unknown, retry: () => void) => {
    if ((error as Error)?.name === "AbortError") return;
    const message = error instanceof ShareError ? error.message : "Something went wrong; try again.";
    setView({ kind: "error", message, retry });
    setStatus(message);
  };

  const load = useCallback(async () => {
    setView({ kind: "loading" });
    try {
      const mine = (await listShares(apiBaseUrl, apiFetch, controller.current.signal)).filter((s) => s.conversationId === conversation.id);
      const newest = mine.at(-1);
      setView(newest ? { kind: "shared", share: newest, others: mine.slice(0, -1) } : { kind: "none" });
    } catch (error) {
      failed(error, () => void load());
    }
  }, [apiBaseUrl, apiFetch, conversation.id]);

  useEffect(() => {
    void load();
  }, [load]);

  const create = async () => {
    setBusy(true);
    try {
      const share = await createShare(apiBaseUrl, apiFetch, conversation, controller.current.signal);
      setView({ kind: "shared", share, others: [] });
      setStatus("Link created. Anyone with the link can read this chat.");
    } catch (error) {
      failed(error, () => void create());
    } finally {
      setBusy(false);
    }
  };

  const stop = async (shares: Share[]) => {
    setBusy(true);
    try {
      for (const share of shares) await revokeShare(apiBaseUrl, apiFetch, share.id, controller.current.signal);
      setView({ kind: "none" });
      setStatus("Sharing stopped. The link no longer opens this chat.");
    } catch (error) {
      failed(error, () => void stop(shares));
    } finally {
      setBusy(false);
    }
  };

  const link = view.kind === "shared" ? absoluteLink(view.share, window.location.origin) : "";

  return (
    <dialog ref={dialog} className="share-dialog" aria-labelledby="share-title" aria-describedby="share-about" onClose={onClose}>
      <h2 id="share-title">Share “{conversation.title}”</h2>
      <p id="share-about" className="share-about">
        A link shows a read-only copy of this chat as it is now, to anyone who has the link, without signing in. Messages you
        send later stay private. Your name is not shown.
      </p>
      {view.kind === "loading" && <p className="share-progress">Checking for a link…</p>}
      {view.kind === "none" && (
        <button type="button" className="action primary" onClick={() => void create()} disabled={busy} autoFocus>
          {busy ? "Creating link…" : "Create link"}
        </button>
      )}
      {view.kind === "shared" && (
        <>
          <label className="share-link-label" htmlFor="share-link">
            Link (created {when(view.share.createdAt)})
          </label>
          <div className="share-link-row">
            <input id="share-link" className="share-link" type="text" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
            <button
              type="button"
              className="action primary"
              autoFocus
              onClick={() => {
                copy(link);
                setStatus("Link copied.");
              }}
            >
              {copied ? "Copied" : "Copy link"}
            </button>
          </div>
          <button type="button" className="action danger" onClick={() => void stop([...view.others, view.share])} disabled={busy}>
            {busy ? "Stopping…" : "Stop sharing"}
          </button>
        </>
      )}
      {view.kind === "error" && (
        <div className="share-error">
          <p role="alert">{view.message}</p>
          <button type="button" className="action" onClick={view.retry} disabled={busy}>
            Try again
          </button>
        </div>
      )}
      <p className="visually-hidden" role="status" data-testid="share-status">
        {status}
      </p>
      <div className="share-footer">
        <button type="button" className="action" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
    </dialog>
  );
}
