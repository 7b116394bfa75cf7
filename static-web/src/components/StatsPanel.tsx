import type { SessionStats } from "../state/types";

/** This page session: replies, the share that failed, restarts (turn re-asked) and resumes (same reply continued). */
export function StatsPanel({ stats }: { stats: SessionStats }) {
  const rate = stats.replies ? Math.round((stats.failedReplies / stats.replies) * 100) : 0;
  return (
    <section className="stats" aria-label="Session statistics" data-testid="stats">
      <h2>This session</h2>
      <dl>
        <div>
          <dt>Replies</dt>
          <dd data-stat="replies">{stats.replies}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd data-stat="errors">
            {stats.failedReplies} ({rate}%)
          </dd>
        </div>
        <div>
          <dt>Reconnects</dt>
          <dd data-stat="reconnects">{stats.reconnects}</dd>
        </div>
        <div>
          <dt>Resumed</dt>
          <dd data-stat="resumes">{stats.resumes}</dd>
        </div>
      </dl>
    </section>
  );
}
