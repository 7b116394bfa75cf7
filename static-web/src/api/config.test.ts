import { describe, expect, it } from "vitest";
import { chatStreamUrl, loadRuntimeConfig, normalizeApiBaseUrl } from "./config";

const respond = (body: string, init: ResponseInit = {}) => (async () => new Response(body, init)) as unknown as typeof fetch;

describe("runtime config", () => {
  it("reads apiBaseUrl from /config.json", async () => {
    const config = await loadRuntimeConfig(
      respond('{"apiBaseUrl":"https://func-x.azurewebsites.net/"}', { headers: { "content-type": "application/json" } }),
    );
    expect(config.apiBaseUrl).toBe("https://func-x.azurewebsites.net");
    expect(chatStreamUrl(config.apiBaseUrl)).toBe("https://func-x.azurewebsites.net/api/chat/stream");
  });

  it.each([
    ["absent (404)", respond("not found", { status: 404 })],
    ["an SPA fallback page", respond("<!doctype html>", { headers: { "content-type": "text/html" } })],
    ["empty", respond('{"apiBaseUrl":""}', { headers: { "content-type": "application/json" } })],
    ["not JSON", respond("{", { headers: { "content-type": "application/json" } })],
    ["unreachable", (async () => Promise.reject(new TypeError("offline"))) as unknown as typeof fetch],
  ])("falls back to the same origin when config.json is %s", async (_name, fetchImpl) => {
    expect((await loadRuntimeConfig(fetchImpl)).apiBaseUrl).toBe("");
    expect(chatStreamUrl("")).toBe("/api/chat/stream");
  });

  it("accepts only http(s) URLs", () => {
    expect(normalizeApiBaseUrl("javascript:alert(1)")).toBe("");
    expect(normalizeApiBaseUrl("ftp://x")).toBe("");
    expect(normalizeApiBaseUrl(42)).toBe("");
    expect(normalizeApiBaseUrl("https://api.example.com/prefix/")).toBe("https://api.example.com/prefix");
  });
});
