import { describe, expect, it } from "vitest";
import { requestModelName, requestTitle } from "./extras";

const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

describe("requestTitle", () => {
  it("posts the first message and the reply cut to 2,000 characters, and returns the title", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return json(200, { title: "Recursive grep" });
    }) as unknown as typeof fetch;
    const title = await requestTitle("https://api.example", fetchImpl, "How do I grep?", "r".repeat(5_000));
    expect(title).toBe("Recursive grep");
    expect(calls[0].url).toBe("https://api.example/api/chat/title");
    expect(calls[0].init.method).toBe("POST");
    const body = JSON.parse(calls[0].init.body as string);
    expect(body.message).toBe("How do I grep?");
    expect(body.reply).toHaveLength(2_000);
  });

  it("gives nothing on 404 (no endpoint deployed), a problem, a bad body or a network error", async () => {
    const answer = (response: () => Response) => (async () => response()) as unknown as typeof fetch;
    expect(await requestTitle("", answer(() => new Response(null, { status: 404 })), "q", "r")).toBeUndefined();
    expect(await requestTitle("", answer(() => json(429, { title: "Too many" }, "application/problem+json")), "q", "r")).toBeUndefined();
    expect(await requestTitle("", answer(() => json(200, { name: "x" })), "q", "r")).toBeUndefined();
    expect(await requestTitle("", answer(() => new Response("not json", { status: 200 })), "q", "r")).toBeUndefined();
    const failing = (async () => Promise.reject(new TypeError("Failed to fetch"))) as unknown as typeof fetch;
    expect(await requestTitle("", failing, "q", "r")).toBeUndefined();
  });
});

describe("requestModelName", () => {
  it("reads the model from /api/health, naming the demo as such", async () => {
    const health = (body: unknown) => (async () => json(200, body)) as unknown as typeof fetch;
    expect(await requestModelName("", health({ model: "gpt-4o-mini", demo: false }))).toBe("gpt-4o-mini");
    expect(await requestModelName("", health({ model: "demo", demo: true }))).toBe("Demo model");
    expect(await requestModelName("", health({ status: "ok" }))).toBeUndefined();
  });
});
