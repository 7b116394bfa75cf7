import { approximateBytes } from "../state/persistence";
import type { Conversation } from "../state/types";

const size = (bytes: number) => (bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

/**
 * Browser storage is full: nothing was dropped, but new changes are not being saved. The user
 * chooses what to delete (largest first); each deletion tries to save again.
 */
export function StorageNotice({
  conversations,
  onDelete,
  onRetry,
}: {
  conversations: Conversation[];
  onDelete: (id: string) => void;
  onRetry: () => void;
}) {
  const bySize = conversations.map((c) => ({ c, bytes: approximateBytes(c) })).sort((a, b) => b.bytes - a.bytes);
  return (
    <section className="storage-full" role="alert" aria-labelledby="storage-full-title" data-testid="storage-full">
      <h2 id="storage-full-title">Browser storage is full</h2>
      <p>
        Your latest changes are kept on this page but not saved, so they would be lost on reload. Nothing has been
        deleted. Delete conversations you no longer need to make room:
      </p>
      <ul>
        {bySize.map(({ c, bytes }) => (
          <li key={c.id}>
            <span className="storage-title">{c.title}</span> <span className="storage-size">{size(bytes)}</span>
            <button type="button" className="action" onClick={() => onDelete(c.id)} aria-label={`Delete to free space: ${c.title}`}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      <button type="button" className="action primary" onClick={onRetry}>
        Try saving again
      </button>
    </section>
  );
}
