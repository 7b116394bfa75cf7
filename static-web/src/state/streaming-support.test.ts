// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from "vitest";
import type { Failure } from "../api/chatClient";
import { createFrameBatcher } from "./frameBatcher";
import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { LEGACY_KEY, openConversationStore, StorageFullError, writeUnsaved } from "./persistence";
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

describe("persistence (IndexedDB)", () => {
  const conversation: Conversation = {
    id: "c1",
    title: "Hi",
    titleSource: "fallback",
    createdAt: 1,
    updatedAt: 1,
    messages: [
      { id: "u1", role: "user", content: "Hi", createdAt: 1 },
      { id: "a1", role: "assistant", content: "Part", createdAt: 1, status: "streaming", restartPending: true },
    ],
  };
  const other: Conversation = { ...conversation, id: "c2", title: "Other", updatedAt: 2, messages: [conversation.messages[0]] };

  beforeEach(() => {
    globalThis.indexedDB = new IDBFactory();
    localStorage.clear();
  });

  it("round-trips conversations (newest first) and marks a reply that was streaming as interrupted", async () => {
    const store = await openConversationStore();
    await store.save({ put: [conversation, other], remove: [], activeId: "c1" });
    const loaded = await (await openConversationStore()).load();
    expect(loaded.activeId).toBe("c1");
    expect(loaded.conversations.map((c) => c.id)).toEqual(["c2", "c1"]);
    expect(loaded.conversations[1].messages[1]).toMatchObject({
      content: "Part",
      status: "failed",
      restartPending: false,
      failure: { kind: "network", retryable: true },
    });
  });

  it("a reply that was streaming with a known stream stays streaming, to be resumed right after the text kept", async () => {
    const resumable: Conversation = {
      ...conversation,
      messages: [
        conversation.messages[0],
        { ...conversation.messages[1], restartPending: false, followed: true, offline: true, stream: { streamId: "s1", lastEventId: "s1:7" } },
      ],
    };
    const store = await openConversationStore();
    await store.save({ put: [resumable], remove: [], activeId: "c1" });
    const reply = (await (await openConversationStore()).load()).conversations[0].messages[1];
    expect(reply).toMatchObject({ content: "Part", status: "streaming", resuming: true, stream: { streamId: "s1", lastEventId: "s1:7" } });
    // What described the tab that saved it does not describe the tab that reads it.
    expect(reply.followed).toBeUndefined();
    expect(reply.offline).toBeUndefined();
    expect(await store.get("c1")).toMatchObject({ messages: [{}, { status: "streaming", resuming: true }] });
    expect(await store.get("nope")).toBeUndefined();
  });

  it("text shown after the last save, recorded synchronously on leaving, is put back: same stream, further only", async () => {
    const saved: Conversation = {
      ...conversation,
      messages: [conversation.messages[0], { ...conversation.messages[1], restartPending: false, stream: { streamId: "s1", lastEventId: "s1:7" } }],
    };
    const store = await openConversationStore();
    await store.save({ put: [saved, other], remove: [], activeId: "c1" });
    const tail = { conversationId: "c1", messageId: "a1", content: "Part and more", stream: { streamId: "s1", lastEventId: "s1:12" } };
    writeUnsaved(localStorage, [tail]);
    const reply = async () => (await (await openConversationStore()).load()).conversations.find((c) => c.id === "c1")!.messages[1];
    expect(await reply()).toMatchObject({ content: "Part and more", stream: { lastEventId: "s1:12" }, status: "streaming" });
    expect((await store.get("c1"))!.messages[1].content).toBe("Part and more");

    // Older than what IndexedDB has, or of another stream (the turn was asked again since): ignored.
    writeUnsaved(localStorage, [{ ...tail, content: "Pa", stream: { streamId: "s1", lastEventId: "s1:3" } }]);
    expect((await reply()).content).toBe("Part");
    writeUnsaved(localStorage, [{ ...tail, stream: { streamId: "s2", lastEventId: "s2:40" } }]);
    expect((await reply()).content).toBe("Part");
    writeUnsaved(localStorage, []);
    expect(localStorage.length).toBe(0);
  });

  it("statistics survive a reload, and two tabs add to the same counts instead of overwriting them", async () => {
    const tabA = await openConversationStore();
    const tabB = await openConversationStore();
    const counts = (replies: number, retries: number) => ({ replies, failedReplies: 0, reconnects: 0, resumes: 0, retries });
    await tabA.save({ put: [], remove: [], activeId: null, stats: counts(2, 1) });
    await tabB.save({ put: [], remove: [], activeId: null, stats: counts(3, 0) });
    expect((await (await openConversationStore()).load()).stats).toEqual(counts(5, 1));
  });

  it("removes only what it is told to remove", async () => {
    const store = await openConversationStore();
    await store.save({ put: [conversation, other], remove: [], activeId: null });
    await store.save({ put: [], remove: ["c1"], activeId: null });
    expect((await store.load()).conversations.map((c) => c.id)).toEqual(["c2"]);
  });

  it("moves localStorage conversations over once, then removes the old key", async () => {
    localStorage.setItem(LEGACY_KEY, JSON.stringify({ conversations: [conversation, { id: 1 }], activeId: "c1" }));
    const loaded = await (await openConversationStore()).load();
    expect(loaded.conversations.map((c) => c.id)).toEqual(["c1"]);
    expect(loaded.activeId).toBe("c1");
    expect(localStorage.getItem(LEGACY_KEY)).toBeNull();
    // From IndexedDB now.
    expect((await (await openConversationStore()).load()).conversations.map((c) => c.id)).toEqual(["c1"]);
  });

  it("ignores corrupt legacy data and keeps it (nothing it cannot read is deleted)", async () => {
    localStorage.setItem(LEGACY_KEY, "{not json");
    expect(await (await openConversationStore()).load()).toEqual({ conversations: [], activeId: null });
    expect(localStorage.getItem(LEGACY_KEY)).toBe("{not json");
  });

  it("reports a full store as StorageFullError and keeps what was stored", async () => {
    const store = await openConversationStore();
    await store.save({ put: [other], remove: [], activeId: null });
    // fake-indexeddb has no quota: make put fail the way Chromium does.
    const realPut = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function () {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    };
    try {
      await expect(store.save({ put: [conversation], remove: [], activeId: null })).rejects.toBeInstanceOf(StorageFullError);
    } finally {
      IDBObjectStore.prototype.put = realPut;
    }
    expect((await store.load()).conversations.map((c) => c.id)).toEqual(["c2"]);
  });
});
