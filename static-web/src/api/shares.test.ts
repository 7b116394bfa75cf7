import { describe, expect, it, vi } from "vitest";
import type { Conversation } from "../state/types";
import { absoluteLink, createShare, importSnapshot, isShareId, readShare, revokeShare, ShareError, shareIdFrom, snapshotOf } from "./shares";

const ID = "AbCdEfGhIjKlMnOpQrStUg";

const chat: Conversation = {
  id: "c-1",
  title: "Trip",
  titleSource: "user",
  createdAt: 1,
  updatedAt: 2,
  messages: [
    { id: "u1", role: "user", content: "Where?", createdAt: 1 },
    {
      id: "a1",
      role: "assistant",
      content: "Lisbon",
      createdAt: 2,
      status: "done",
      reasoning: "private thoughts",
      metrics: { outputTokens: 3 },
      versions: [{ role: "assistant", content: "Porto (an older version)", createdAt: 1, after: [] }],
      versionIndex: 1,
    },
    { id: "u2", role: "user", content: "And then?", createdAt: 3 },
    { id: "a2", role: "assistant", content: "half a rep", createdAt: 4, status: "streaming" },
    { id: "a3", role: "assistant", content: "  ", createdAt: 5, status: "failed" },
  ],
};

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("snapshotOf", () => {
  it("keeps the messages as shown, role and text only: no reasoning, no other versions, nothing streaming or empty", () => {
    const snapshot = snapshotOf(chat);
    expect(snapshot).toEqual({
      conversationId: "c-1",
      title: "Trip",
      messages: [
        { role: "user", content: "Where?" },
        { role: "assistant", content: "Lisbon" },
        { role: "user", content: "And then?" },
      ],
    });
    expect(JSON.stringify(snapshot)).not.toMatch(/private thoughts|Porto/);
  });
});

describe("share ids and links", () => {
  it("accepts only the server's 22-character ids", () => {
    expect(isShareId(ID)).toBe(true);
    for (const bad of [null, "", "short", `${ID}A`, "AbCdEfGhIjKlMnOpQrStUB", "AbCdEfGhIjKlMnOpQrSt/g", "../api/shares/xxxxxxxx"]) expect(isShareId(bad)).toBe(false);
  });

  it("reads the id from the page's address and builds the link on the page's own origin", () => {
    expect(shareIdFrom(`?share=${ID}`)).toBe(ID);
    expect(shareIdFrom("?x=1")).toBeNull();
    expect(absoluteLink({ link: `/?share=${ID}` }, "https://chat.example")).toBe(`https://chat.example/?share=${ID}`);
  });
});

describe("readShare", () => {
  it("reads without credentials and keeps only well-formed messages", async () => {
    const fetchImpl = vi.fn(async () => json(200, { id: ID, title: "Trip", createdAt: 5, messages: [{ role: "user", content: "hi" }, { role: "system", content: "x" }, { role: "assistant" }] }));
    const result = await readShare("https://api.example", ID, fetchImpl as unknown as typeof fetch);
    expect(result).toEqual({ kind: "ok", snapshot: { id: ID, title: "Trip", createdAt: 5, messages: [{ role: "user", content: "hi" }] } });
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe(`https://api.example/api/shares/${ID}`);
    expect(init.credentials).toBe("omit");
    expect(new Headers(init.headers).has("Authorization")).toBe(false);
  });

  it("says gone for a revoked or unknown link, and for a malformed id without asking the server", async () => {
    const fetchImpl = vi.fn(async () => json(404, { detail: "no" }));
    expect(await readShare("", ID, fetchImpl as unknown as typeof fetch)).toEqual({ kind: "gone" });
    expect(await readShare("", "nope", fetchImpl as unknown as typeof fetch)).toEqual({ kind: "gone" });
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("says unavailable, with a reason, when offline or the server fails", async () => {
    const offline = await readShare("", ID, (async () => Promise.reject(new TypeError("Failed to fetch"))) as unknown as typeof fetch);
    expect(offline.kind).toBe("unavailable");
    expect(offline.kind === "unavailable" && offline.message).toMatch(/cannot be reached/);
    const failing = await readShare("", ID, (async () => json(503, { detail: "Shared links cannot be reached right now." })) as unknown as typeof fetch);
    expect(failing).toEqual({ kind: "unavailable", message: "Shared links cannot be reached right now." });
  });
});

describe("create and revoke", () => {
  it("posts the snapshot and surfaces the server's problem detail when refused", async () => {
    const created = { id: ID, conversationId: "c-1", title: "Trip", createdAt: 9, link: `/?share=${ID}` };
    const ok = vi.fn(async () => json(201, created));
    expect(await createShare("", ok as unknown as typeof fetch, chat)).toEqual(created);
    const [, init] = ok.mock.calls[0] as unknown as [string, RequestInit];
    expect(JSON.parse(init.body as string)).toEqual(snapshotOf(chat));

    const refused = (async () => json(429, { detail: "You created 10 shared links; try again in 60 s." })) as unknown as typeof fetch;
    await expect(createShare("", refused, chat)).rejects.toEqual(new ShareError("You created 10 shared links; try again in 60 s.", 429));
  });

  it("counts a link already gone as stopped", async () => {
    await expect(revokeShare("", (async () => new Response(null, { status: 404 })) as unknown as typeof fetch, ID)).resolves.toBeUndefined();
    await expect(revokeShare("", (async () => json(503, {})) as unknown as typeof fetch, ID)).rejects.toBeInstanceOf(ShareError);
  });
});

describe("importSnapshot", () => {
  it("makes a new local chat with new ids, the shared title, and finished replies in order", () => {
    let n = 0;
    const copy = importSnapshot({ id: ID, title: " Trip ", createdAt: 1, messages: [{ role: "user", content: "Where?" }, { role: "assistant", content: "Lisbon" }] }, 1_000, () => `id${n++}`);
    expect(copy.id).toBe("id2");
    expect(copy.title).toBe("Trip");
    expect(copy.titleSource).toBe("user");
    expect(copy.messages.map((m) => [m.id, m.role, m.content, m.status])).toEqual([
      ["id0", "user", "Where?", undefined],
      ["id1", "assistant", "Lisbon", "done"],
    ]);
    expect(copy.messages[0].createdAt).toBeLessThan(copy.messages[1].createdAt);
    expect(copy.updatedAt).toBe(1_000);
    expect(importSnapshot({ id: ID, title: null, createdAt: 1, messages: [] }).title).toBe("Shared chat");
  });
});
