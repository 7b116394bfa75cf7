import type { SessionStats } from "../state/types";

/**
 * Counts kept with the chats (they survive reloads), folded away behind a toggle: replies, the share
 * that failed, network reconnects, replies continued without asking again, and automatic re-asks.
 */
export function StatsPanel({ stats }: { stats: SessionStats }) {
  const rate = stats.replies ? Math.round((stats.failedReplies / stats.replies) * 100) : 0;
  return (
    <details className="stats" data-testid="stats">
      <summary>Statistics</summary>
      <dl>
        <div>
          <dt>Replies</dt>
          <dd data-stat="replies">{stats.replies}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd data-stat="errors">
            {stats.failedReplies} ({rate}%)
          </dd>
        </div>
        <div>
          <dt title="New connections after the network dropped">Reconnects</dt>
          <dd data-stat="reconnects">{stats.reconnects}</dd>
        </div>
        <div>
          <dt title="Replies continued where they stopped, nothing asked twice">Resumed</dt>
          <dd data-stat="resumes">{stats.resumes}</dd>
        </div>
        <div>
          <dt title="Questions asked again automatically after a server error">Retried</dt>
          <dd data-stat="retries">{stats.retries}</dd>
        </div>
      </dl>
    </details>
  );
}
