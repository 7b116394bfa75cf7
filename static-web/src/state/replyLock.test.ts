import { describe, expect, it } from "vitest";
import { createReplyLocks } from "./replyLock";

/** The part of the Web Locks API the page uses: exclusive locks, ifAvailable, signal; held while the callback runs. */
function fakeLockManager() {
  const held = new Set<string>();
  const waiters = new Map<string, (() => void)[]>();
  const release = (name: string) => {
    held.delete(name);
    waiters.get(name)?.shift()?.();
  };
  const manager = {
    async request(name: string, options: LockOptions, callback: (lock: Lock | null) => Promise<unknown>) {
      if (held.has(name)) {
        if (options.ifAvailable) return callback(null);
        await new Promise<void>((resolve, reject) => {
          const list = waiters.get(name) ?? [];
          list.push(resolve);
          waiters.set(name, list);
          options.signal?.addEventListener("abort", () => {
            list.splice(list.indexOf(resolve), 1);
            reject(new DOMException("aborted", "AbortError"));
          });
        });
      }
      held.add(name);
      try {
        return await callback({ name, mode: "exclusive" } as Lock);
      } finally {
        release(name);
      }
    },
  };
  return manager as unknown as LockManager;
}

describe("reply locks: one owning tab per reply", () => {
  it("a second tab does not get a reply another tab owns, and gets it once that tab lets go", async () => {
    const manager = fakeLockManager();
    const tabA = createReplyLocks(manager);
    const tabB = createReplyLocks(manager);
    let finishA = () => {};
    const ownerA = tabA.hold("m1", () => new Promise<void>((resolve) => (finishA = resolve)));
    await Promise.resolve();

    expect(await tabB.tryHold("m1", async () => "ran")).toEqual({ held: false });
    expect(await tabB.tryHold("m2", async () => "ran")).toEqual({ held: true, value: "ran" });

    const order: string[] = [];
    const takeover = tabB.hold("m1", async () => void order.push("B owns m1"));
    await Promise.resolve();
    expect(order).toEqual([]);
    finishA();
    await ownerA;
    await takeover;
    expect(order).toEqual(["B owns m1"]);
  });

  it("waiting for a lock can be given up", async () => {
    const manager = fakeLockManager();
    const tabA = createReplyLocks(manager);
    let finishA = () => {};
    void tabA.hold("m1", () => new Promise<void>((resolve) => (finishA = resolve)));
    await Promise.resolve();
    const waiting = new AbortController();
    const wait = createReplyLocks(manager).hold("m1", async () => "never", waiting.signal);
    waiting.abort();
    await expect(wait).rejects.toThrow("aborted");
    finishA();
  });

  it("without Web Locks each tab acts alone", async () => {
    const locks = createReplyLocks(null);
    expect(await locks.tryHold("m1", async () => 1)).toEqual({ held: true, value: 1 });
    expect(await locks.hold("m1", async () => 2)).toBe(2);
  });
});
