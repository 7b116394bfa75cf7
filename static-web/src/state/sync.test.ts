import { describe, expect, it } from "vitest";
import {
  ConversationTooLargeError,
  createConversationSync,
  mergeConversations,
  SIGN_IN_REQUIRED_TYPE,
  type LocalConversations,
  type StoredDocument,
  type SyncConversation,
  type SyncMessage,
  type Tombstone,
} from "./sync";

const msg = (id: string, createdAt: number, extra: Partial<SyncMessage> = {}): SyncMessage => ({ id, createdAt, role: "user", content: id, ...extra });

const chat = (extra: Partial<SyncConversation> = {}): SyncConversation => ({
  id: "c1",
  title: "New chat",
  titleSource: "fallback",
  createdAt: 100,
  updatedAt: 100,
  messages: [],
  ...extra,
});

const tombstone = (id = "c1", deletedAt = 500): Tombstone => ({ id, deleted: true, deletedAt, updatedAt: deletedAt });

const asChat = (doc: StoredDocument) => doc as SyncConversation;

describe("mergeConversations", () => {
  it("keeps the messages of both copies, in createdAt order", () => {
    const base = [msg("u1", 1), msg("a1", 2)];
    const local = chat({ messages: [...base, msg("u2-local", 10), msg("a2-local", 11)], updatedAt: 11 });
    const remote = chat({ messages: [...base, msg("u2-remote", 5), msg("a2-remote", 6)], updatedAt: 6 });

    const merged = asChat(mergeConversations(local, remote));

    expect(merged.messages.map((m) => m.id)).toEqual(["u1", "a1", "u2-remote", "a2-remote", "u2-local", "a2-local"]);
    expect(merged.updatedAt).toBe(11);
  });

  it("is symmetric in which messages survive", () => {
    const a = chat({ messages: [msg("x", 1), msg("y", 3)] });
    const b = chat({ messages: [msg("x", 1), msg("z", 2)] });

    const ids = (doc: StoredDocument) => asChat(doc).messages.map((m) => m.id);

    expect(ids(mergeConversations(a, b))).toEqual(["x", "z", "y"]);
    expect(ids(mergeConversations(b, a))).toEqual(["x", "z", "y"]);
  });

  it("keeps the local order for messages created at the same moment", () => {
    const local = chat({ messages: [msg("b", 1), msg("a", 1)] });
    const remote = chat({ messages: [msg("a", 1), msg("c", 1)] });

    expect(asChat(mergeConversations(local, remote)).messages.map((m) => m.id)).toEqual(["b", "a", "c"]);
  });

  it("unions the other versions of one message by role, time and text and keeps the local shown one", () => {
    const local = chat({
      messages: [msg("a1", 4, { role: "assistant", content: "v2", versions: [{ role: "assistant", content: "v1", createdAt: 2 }], versionIndex: 1 })],
    });
    const remote = chat({
      messages: [
        msg("a1", 4, {
          role: "assistant",
          content: "v2",
          versions: [{ role: "assistant", content: "v0", createdAt: 1 }, { role: "assistant", content: "v1", createdAt: 2 }],
          versionIndex: 2,
        }),
      ],
    });

    const merged = asChat(mergeConversations(local, remote)).messages[0];

    expect(merged.content).toBe("v2");
    expect(merged.versions!.map((v) => v.content)).toEqual(["v0", "v1"]);
    expect(merged.versionIndex).toBe(2);
  });

  it("keeps a regenerate made on the other side as a version, with the turns that followed it there", () => {
    const local = chat({
      messages: [msg("u1", 1), msg("a1", 2, { role: "assistant", content: "old" }), msg("u2", 3), msg("a2", 4, { role: "assistant" })],
    });
    const remote = chat({
      messages: [
        msg("u1", 1),
        msg("a1", 10, {
          role: "assistant",
          content: "new",
          versions: [{ role: "assistant", content: "old", createdAt: 2, after: [msg("u2", 3), msg("a2", 4, { role: "assistant" })] }],
          versionIndex: 1,
        }),
        msg("u3", 11),
      ],
    });

    const merged = asChat(mergeConversations(local, remote));
    const a1 = merged.messages[1];

    expect(merged.messages.map((m) => m.id)).toEqual(["u1", "a1", "u2", "a2"]);
    expect(a1.content).toBe("old");
    expect(a1.versions!.map((v) => v.content)).toEqual(["new"]);
    expect(a1.versions![0].after!.map((m) => m.id)).toEqual(["u3"]);
    expect(a1.versionIndex).toBe(0);
  });

  it("lets a user's rename beat a generated title, and a generated title beat the fallback, whichever is newer", () => {
    const renamed = chat({ title: "My trip", titleSource: "user", updatedAt: 100 });
    const generated = chat({ title: "Trip planning", titleSource: "generated", updatedAt: 900 });
    const fallback = chat({ title: "plan a trip to…", titleSource: "fallback", updatedAt: 999 });

    expect(asChat(mergeConversations(generated, renamed)).title).toBe("My trip");
    expect(asChat(mergeConversations(renamed, generated)).title).toBe("My trip");
    expect(asChat(mergeConversations(fallback, generated)).title).toBe("Trip planning");
    expect(asChat(mergeConversations(generated, fallback)).titleSource).toBe("generated");
  });

  it("takes the title of the copy changed last between two of the same kind", () => {
    const older = chat({ title: "Old name", titleSource: "user", updatedAt: 100 });
    const newer = chat({ title: "New name", titleSource: "user", updatedAt: 200 });

    expect(asChat(mergeConversations(older, newer)).title).toBe("New name");
    expect(asChat(mergeConversations(newer, older)).title).toBe("New name");
  });

  it("lets a tombstone on either side win", () => {
    const live = chat({ messages: [msg("u1", 1)], updatedAt: 900 });

    expect(mergeConversations(live, tombstone())).toEqual(tombstone());
    expect(mergeConversations(tombstone(), live)).toEqual(tombstone());
  });

  it("keeps removed messages out even when the other copy still has them", () => {
    const edited = chat({ messages: [msg("u1", 1), msg("u2-edited", 5)], removedMessages: { u2: 4, a2: 4 } });
    const stale = chat({ messages: [msg("u1", 1), msg("u2", 2), msg("a2", 3)] });

    const merged = asChat(mergeConversations(stale, edited));

    expect(merged.messages.map((m) => m.id)).toEqual(["u1", "u2-edited"]);
    expect(merged.removedMessages).toEqual({ u2: 4, a2: 4 });
  });

  it("changes neither argument", () => {
    const local = chat({ messages: [msg("a", 1)], removedMessages: { x: 1 } });
    const remote = chat({ messages: [msg("b", 2)], removedMessages: { y: 2 } });
    const before = JSON.stringify([local, remote]);

    mergeConversations(local, remote);

    expect(JSON.stringify([local, remote])).toBe(before);
  });
});

/** The server's contract (docs/conversations.md) in memory: conditional PUTs, tombstones, ETags. */
class FakeServer {
  docs = new Map<string, { body: string; etag: string }>();
  private version = 0;
  requests: string[] = [];
  /** Runs before the next PUT is answered: another device saving first. */
  beforeNextPut?: () => void;
  /** CHAT_CONVERSATION_MAX_BYTES: larger saves get 413. */
  maxBytes?: number;

  store(id: string, doc: StoredDocument) {
    const etag = `"${++this.version}"`;
    this.docs.set(id, { body: JSON.stringify(doc), etag });
    return etag;
  }

  fetch: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? "GET";
    this.requests.push(`${method} ${url.pathname}`);
    const headers = new Headers(init?.headers);
    const id = decodeURIComponent(url.pathname.split("/")[3] ?? "");
    if (!id) {
      const items = [...this.docs.entries()].map(([key, value]) => {
        const doc = JSON.parse(value.body) as StoredDocument;
        return { id: key, title: (doc as SyncConversation).title, updatedAt: doc.updatedAt, etag: value.etag, deleted: "deleted" in doc ? true : undefined };
      });
      return Response.json({ items, next: null });
    }
    const current = this.docs.get(id);
    if (method === "GET") {
      return current ? new Response(current.body, { headers: { ETag: current.etag, "Content-Type": "application/json" } }) : new Response(null, { status: 404 });
    }
    if (method === "DELETE") {
      const etag = this.store(id, tombstone(id, 1_000));
      return new Response(null, { status: 204, headers: { ETag: etag } });
    }
    if (this.maxBytes !== undefined && new TextEncoder().encode(String(init!.body)).length > this.maxBytes) {
      return new Response(JSON.stringify({ status: 413, errors: { body: ["too large"] } }), { status: 413, headers: { "Content-Type": "application/problem+json" } });
    }
    const beforePut = this.beforeNextPut;
    this.beforeNextPut = undefined;
    beforePut?.();
    const latest = this.docs.get(id);
    const ifMatch = headers.get("If-Match");
    const create = headers.get("If-None-Match") === "*";
    if ((create && latest) || (ifMatch && latest?.etag !== ifMatch) || (!create && !ifMatch)) {
      return new Response(JSON.stringify({ status: 412 }), { status: 412, headers: { "Content-Type": "application/problem+json" } });
    }
    const etag = this.store(id, JSON.parse(String(init!.body)) as StoredDocument);
    return Response.json({ etag }, { headers: { ETag: etag } });
  };

  doc(id: string) {
    return JSON.parse(this.docs.get(id)!.body) as StoredDocument;
  }
}

function localStore(initial: SyncConversation[] = []) {
  const map = new Map(initial.map((c) => [c.id, c]));
  const local: LocalConversations = {
    list: async () => [...map.values()],
    get: async (id) => map.get(id),
    put: async (c) => void map.set(c.id, c),
    remove: async (id) => void map.delete(id),
  };
  return { map, local };
}

const noWait = async () => {};

describe("createConversationSync", () => {
  it("creates with If-None-Match: * and then saves on the ETag it got", async () => {
    const server = new FakeServer();
    const { local } = localStore();
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait });
    const first = chat({ messages: [msg("u1", 1)] });

    await sync.push(first);
    await sync.push({ ...first, messages: [msg("u1", 1), msg("a1", 2)], updatedAt: 200 });

    expect(asChat(server.doc("c1")).messages.map((m) => m.id)).toEqual(["u1", "a1"]);
  });

  it("on 412 fetches the server's copy, merges, and saves both sides' messages", async () => {
    const server = new FakeServer();
    const { map, local } = localStore();
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait });
    await sync.push(chat({ messages: [msg("u1", 1)] }));
    // Another device adds its turn first.
    server.store("c1", chat({ messages: [msg("u1", 1), msg("other", 5)], updatedAt: 500 }));
    const mine = chat({ messages: [msg("u1", 1), msg("mine", 6)], updatedAt: 600 });
    map.set("c1", mine);

    await sync.push(mine);

    expect(asChat(server.doc("c1")).messages.map((m) => m.id)).toEqual(["u1", "other", "mine"]);
    expect(map.get("c1")!.messages.map((m) => m.id)).toEqual(["u1", "other", "mine"]);
    expect(server.requests.filter((r) => r.startsWith("PUT"))).toHaveLength(3);
  });

  it("a chat larger than the server keeps fails with ConversationTooLargeError naming it, and the local copy stays", async () => {
    const server = new FakeServer();
    server.maxBytes = 1_000;
    const big = chat({ messages: [msg("u1", 1, { content: "x".repeat(2_000) })] });
    const { map, local } = localStore([big]);
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait });

    const error = await sync.push(big).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConversationTooLargeError);
    expect((error as ConversationTooLargeError).conversationId).toBe("c1");
    expect(server.docs.has("c1")).toBe(false);
    expect(map.get("c1")).toBe(big);
    expect(sync.state).toBe("on");
  });

  it("pull saves the other local-only chats past one too large, and reports that one", async () => {
    const server = new FakeServer();
    server.maxBytes = 1_000;
    const big = chat({ id: "big", messages: [msg("u1", 1, { content: "x".repeat(2_000) })] });
    const small = chat({ id: "small", messages: [msg("u2", 2)] });
    const { local } = localStore([big, small]);
    const tooLarge: string[] = [];
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait, onTooLarge: (id) => tooLarge.push(id) });

    await sync.pull();

    expect(tooLarge).toEqual(["big"]);
    expect(server.docs.has("small")).toBe(true);
    expect(server.docs.has("big")).toBe(false);
  });

  it("pull reports a chat that grew too large here since the server's copy, and goes on with the rest", async () => {
    const server = new FakeServer();
    server.maxBytes = 1_000;
    server.store("grown", chat({ id: "grown", messages: [msg("u1", 1)] }));
    const grown = chat({ id: "grown", messages: [msg("u1", 1), msg("u2", 2, { content: "x".repeat(2_000) })], updatedAt: 300 });
    const small = chat({ id: "small", messages: [msg("u3", 3)] });
    const { local } = localStore([grown, small]);
    const tooLarge: string[] = [];
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait, onTooLarge: (id) => tooLarge.push(id) });

    await sync.pull();

    expect(tooLarge).toEqual(["grown"]);
    expect(asChat(server.doc("grown")).messages.map((m) => m.id)).toEqual(["u1"]);
    expect(server.docs.has("small")).toBe(true);
  });

  it("retries with backoff while saves keep meeting newer versions, and gives up after maxAttempts", async () => {
    const server = new FakeServer();
    const { local } = localStore();
    const waits: number[] = [];
    const sync = createConversationSync({
      apiBaseUrl: "http://api.test",
      fetch: server.fetch,
      local,
      maxAttempts: 3,
      backoff: (attempt) => attempt * 100,
      wait: async (ms) => void waits.push(ms),
    });
    server.store("c1", chat({ messages: [msg("u1", 1)] }));
    let n = 0;
    const busy = () => {
      server.store("c1", chat({ messages: [msg("u1", 1), msg(`other-${++n}`, 10 + n)] }));
      server.beforeNextPut = busy;
    };
    server.beforeNextPut = busy;

    await expect(sync.push(chat({ messages: [msg("mine", 2)] }))).rejects.toThrow(/newer versions/);

    // No wait before the first retry (the conflict is fresh news), none after the last attempt.
    expect(waits).toEqual([100]);
    expect(server.requests.filter((r) => r.startsWith("PUT"))).toHaveLength(3);
  });

  it("pull brings the server's chats in, merges changed ones, pushes local-only ones, and drops deleted ones", async () => {
    const server = new FakeServer();
    server.store("remote-only", chat({ id: "remote-only", messages: [msg("r", 1)] }));
    server.store("both", chat({ id: "both", messages: [msg("x", 1), msg("theirs", 3)] }));
    server.store("gone", tombstone("gone"));
    const { map, local } = localStore([
      chat({ id: "both", messages: [msg("x", 1), msg("ours", 2)] }),
      chat({ id: "local-only", messages: [msg("l", 1)] }),
      chat({ id: "gone", messages: [msg("g", 1)] }),
    ]);
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait });

    await sync.pull();

    expect([...map.keys()].sort()).toEqual(["both", "local-only", "remote-only"]);
    expect(map.get("both")!.messages.map((m) => m.id)).toEqual(["x", "ours", "theirs"]);
    expect(asChat(server.doc("both")).messages.map((m) => m.id)).toEqual(["x", "ours", "theirs"]);
    expect(asChat(server.doc("local-only")).messages.map((m) => m.id)).toEqual(["l"]);
    expect("deleted" in server.doc("gone")).toBe(true);
  });

  it("a save that meets a tombstone removes the local copy instead of bringing the chat back", async () => {
    const server = new FakeServer();
    const { map, local } = localStore([chat()]);
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait });
    server.store("c1", tombstone());

    await sync.push(chat({ messages: [msg("late", 9)] }));

    expect(map.has("c1")).toBe(false);
    expect("deleted" in server.doc("c1")).toBe(true);
  });

  it("remove deletes on the server, leaving its tombstone", async () => {
    const server = new FakeServer();
    const { local } = localStore();
    const sync = createConversationSync({ apiBaseUrl: "http://api.test", fetch: server.fetch, local, wait: noWait });
    await sync.push(chat());

    await sync.remove("c1");

    expect(server.requests.at(-1)).toBe("DELETE /api/conversations/c1");
    expect(server.doc("c1")).toMatchObject({ id: "c1", deleted: true });
  });

  it("turns itself off for anonymous callers (sign-in off: 404 with the sign-in type; not signed in: 401)", async () => {
    for (const answer of [
      () => new Response(JSON.stringify({ type: SIGN_IN_REQUIRED_TYPE, status: 404 }), { status: 404, headers: { "Content-Type": "application/problem+json" } }),
      () => new Response(JSON.stringify({ status: 401 }), { status: 401, headers: { "Content-Type": "application/problem+json" } }),
    ]) {
      const calls: string[] = [];
      const { local } = localStore([chat()]);
      const sync = createConversationSync({
        apiBaseUrl: "http://api.test",
        fetch: async (input) => {
          calls.push(String(input));
          return answer();
        },
        local,
        wait: noWait,
      });

      await expect(sync.pull()).rejects.toThrow(/sign-in/);
      await sync.push(chat());
      await sync.pull();

      expect(sync.state).toBe("off");
      expect(calls).toHaveLength(1);
    }
  });
});
