/**
 * One owner per streaming reply across the tabs of this browser, through the Web Locks API: the tab
 * that runs a reply holds the lock named after it for as long as the run lasts. A tab that opens
 * while another owns the reply follows it (reads the same stream, saves nothing of it) and waits
 * for the lock; the browser grants it when the owner ends the run or its tab closes, so exactly one
 * tab takes over, with no heartbeat or timeout of ours. (BroadcastChannel alone would need both:
 * a closed tab says nothing.) Without Web Locks (old browsers, some test environments) every tab is
 * its own owner: two tabs open on one streaming reply may both resume it.
 */
export interface ReplyLocks {
  /** Runs `work` holding the lock of this reply, waiting for it if another tab holds it (or until `signal` aborts). */
  hold<T>(messageId: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Runs `work` holding the lock only if no other tab holds it; `{ held: false }` without running it otherwise. */
  tryHold<T>(messageId: string, work: () => Promise<T>): Promise<{ held: true; value: T } | { held: false }>;
}

const lockName = (messageId: string) => `chatfunctions.reply.${messageId}`;

export function createReplyLocks(
  locks: LockManager | null = typeof navigator !== "undefined" && navigator.locks ? navigator.locks : null,
): ReplyLocks {
  if (!locks) {
    return {
      hold: (_id, work) => work(),
      tryHold: async (_id, work) => ({ held: true, value: await work() }),
    };
  }
  return {
    hold: async <T>(id: string, work: () => Promise<T>, signal?: AbortSignal) =>
      (await locks.request(lockName(id), signal ? { signal } : {}, () => work())) as T,
    tryHold: async <T>(id: string, work: () => Promise<T>) =>
      (await locks.request(lockName(id), { ifAvailable: true }, async (lock) =>
        lock ? { held: true as const, value: await work() } : { held: false as const },
      )) as { held: true; value: T } | { held: false },
  };
}
