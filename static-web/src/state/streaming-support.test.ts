// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import type { Failure } from "../api/chatClient";
import { createFrameBatcher } from "./frameBatcher";
import { loadConversations, saveConversations, STORAGE_KEY } from "./persistence";
import type { Conversation } from "./types";
import { MAX_RECONNECTS, reconnectDelay } from "./useChat";

describe("frame batcher", () => {
  it("hands over all chunks pushed within one frame as one update", () => {
    const frames: (() => void)[] = [];
    const flushed: [string, number][] = [];
    const batcher = createFrameBatcher(
      (text, chunks) => flushed.push([text, chunks]),
      (cb) => frames.push(cb),
      () => {},
    );
    batcher.push("a");
    batcher.push("b");
    batcher.push("c");
    expect(frames).toHaveLength(1);
    expect(flushed).toEqual([]);
    frames[0]();
    expect(flushed).toEqual([["abc", 3]]);
    batcher.push("d");
    batcher.flush(); // end of stream: no frame wait
    expect(flushed).toEqual([
      ["abc", 3],
      ["d", 1],
    ]);
  });
});

describe("reconnect policy", () => {
  const network: Failure = { kind: "network", message: "lost", retryable: true };
  it("backs off exponentially up to the attempt cap", () => {
    const half = () => 0.5;
    expect([0, 1, 2].map((n) => reconnectDelay(network, n, half))).toEqual([1000, 2000, 4000]);
    expect(reconnectDelay(network, MAX_RECONNECTS, half)).toBeUndefined();
  });
  it("waits what the server asked, but not for minutes", () => {
    expect(reconnectDelay({ ...network, kind: "rate_limited", retryAfterMs: 5000 }, 0)).toBe(5000);
    expect(reconnectDelay({ ...network, kind: "rate_limited", retryAfterMs: 86_400_000 }, 0)).toBeUndefined();
  });
  it("never retries what is not retryable", () => {
    expect(reconnectDelay({ kind: "http", message: "bad", retryable: false, status: 400 }, 0)).toBeUndefined();
  });
});

describe("persistence", () => {
  const conversation: Conversation = {
    id: "c1",
    title: "Hi",
    createdAt: 1,
    updatedAt: 1,
    messages: [
      { id: "u1", role: "user", content: "Hi", createdAt: 1 },
      { id: "a1", role: "assistant", content: "Part", createdAt: 1, status: "streaming", restartPending: true },
    ],
  };

  it("round-trips conversations and marks a reply that was streaming as interrupted", () => {
    saveConversations({ conversations: [conversation], activeId: "c1" });
    const loaded = loadConversations();
    expect(loaded.activeId).toBe("c1");
    expect(loaded.conversations[0].messages[1]).toMatchObject({
      content: "Part",
      status: "failed",
      restartPending: false,
      failure: { kind: "network", retryable: true },
    });
  });

  it("ignores corrupt or foreign data", () => {
    localStorage.setItem(STORAGE_KEY, "{not json");
    expect(loadConversations()).toEqual({ conversations: [], activeId: null });
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ conversations: [{ id: 1 }], activeId: "x" }));
    expect(loadConversations()).toEqual({ conversations: [], activeId: null });
  });
});
