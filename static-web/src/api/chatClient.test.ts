import { describe, expect, it } from "vitest";
import { createChatApi, parseRetryAfter, retryAfterOf, STOP_ATTEMPTS, StreamFailure, streamChat } from "./chatClient";

const encoder = new TextEncoder();

/** A fetch that answers with the given SSE text, cut into the given pieces (bytes). */
function sseFetch(pieces: string[], { dropAfter = false } = {}) {
  const calls: RequestInit[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    calls.push(init);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(encoder.encode(piece));
        if (dropAfter) controller.error(new TypeError("network error"));
        else controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" } });
  }) as unknown as typeof fetch;
  return { fetchImpl, calls };
}

const frame = (id: number, data: unknown) => `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
const meta = frame(1, { meta: { requestId: "r1", provider: "demo", model: "demo" } });
const done = (id: number, extra = {}) => frame(id, { done: true, finishReason: "stop", ...extra });

async function collect(pieces: string[], options?: { dropAfter?: boolean }) {
  const { fetchImpl, calls } = sseFetch(pieces, options);
  const chunks: string[] = [];
  const metas: string[] = [];
  const promise = streamChat(
    "/api/chat/stream",
    { message: "hi", history: [{ role: "user", content: "earlier" }] },
    new AbortController().signal,
    { onChunk: (t) => chunks.push(t), onMeta: (m) => metas.push(m.model) },
    fetchImpl,
  );
  return { promise, chunks, metas, calls };
}

describe("streamChat", () => {
  it("reports the thinking frame before the first chunk, and the done frame's split of the wait", async () => {
    const { fetchImpl } = sseFetch([
      meta,
      frame(2, { thinking: { timeToFirstByteMs: 120.5 } }),
      ": keep-alive\n\n",
      frame(3, { chunk: "Hi" }),
      done(4, {
        usage: { outputTokens: 70, reasoningTokens: 64 },
        metrics: { timeToFirstByteMs: 120.5, thinkingMs: 4000, timeToFirstTokenMs: 4120.5, tokensPerSecond: 0, durationMs: 4200 },
      }),
    ]);
    const seen: string[] = [];
    const result = await streamChat("/api/chat/stream", { message: "hi", history: [] }, new AbortController().signal, {
      onThinking: () => seen.push("thinking"),
      onChunk: (t) => seen.push(`chunk:${t}`),
    }, fetchImpl);
    expect(seen).toEqual(["thinking", "chunk:Hi"]);
    expect(result.usage?.reasoningTokens).toBe(64);
    expect(result.metrics).toMatchObject({ timeToFirstByteMs: 120.5, thinkingMs: 4000, timeToFirstTokenMs: 4120.5 });
  });

  it("reports reasoning frames apart from chunks, in order, with their frame ids", async () => {
    const { fetchImpl } = sseFetch([
      meta,
      frame(2, { thinking: { timeToFirstByteMs: 80 } }),
      frame(3, { reasoning: "**Weighing** the" }),
      frame(4, { reasoning: " question" }),
      frame(5, { chunk: "Answer" }),
      done(6),
    ]);
    const seen: string[] = [];
    await streamChat("/api/chat/stream", { message: "hi", history: [] }, new AbortController().signal, {
      onReasoning: (t, id) => seen.push(`reasoning:${t}@${id}`),
      onChunk: (t) => seen.push(`chunk:${t}`),
    }, fetchImpl);
    expect(seen).toEqual(["reasoning:**Weighing** the@3", "reasoning: question@4", "chunk:Answer"]);
  });

  it("POSTs JSON with the history and streams chunks until done", async () => {
    const { promise, chunks, metas, calls } = await collect([
      meta,
      frame(2, { chunk: "Hel" }),
      frame(3, { chunk: "lo" }),
      ": keep-alive\n\n",
      done(4, { usage: { outputTokens: 2 }, metrics: { timeToFirstTokenMs: 5, tokensPerSecond: 40, durationMs: 50 } }),
    ]);
    const result = await promise;
    expect(chunks).toEqual(["Hel", "lo"]);
    expect(metas).toEqual(["demo"]);
    expect(result).toEqual({
      finishReason: "stop",
      usage: { outputTokens: 2, inputTokens: undefined, totalTokens: undefined },
      metrics: { timeToFirstTokenMs: 5, tokensPerSecond: 40, durationMs: 50 },
    });
    expect(calls[0].method).toBe("POST");
    expect(JSON.parse(calls[0].body as string)).toEqual({ message: "hi", history: [{ role: "user", content: "earlier" }] });
  });

  it("handles frames split at arbitrary byte boundaries", async () => {
    const text = meta + frame(2, { chunk: "안녕 👋" }) + done(3);
    const bytes = encoder.encode(text);
    const fetchImpl = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
            c.close();
          },
        }),
      )) as unknown as typeof fetch;
    const chunks: string[] = [];
    await streamChat("/x", { message: "m", history: [] }, new AbortController().signal, { onChunk: (t) => chunks.push(t) }, fetchImpl);
    expect(chunks).toEqual(["안녕 👋"]);
  });

  it("rejects with the server's error frame (rate limited, retryable, retryAfterMs)", async () => {
    const { promise, chunks } = await collect([
      meta,
      frame(2, { chunk: "part" }),
      frame(3, { error: { code: "rate_limited", message: "Too many requests", retryable: true, retryAfterMs: 1500 } }),
      frame(4, { done: true, finishReason: "error" }),
    ]);
    const error = await promise.catch((e) => e);
    expect(error).toBeInstanceOf(StreamFailure);
    expect(error.failure).toEqual({
      kind: "rate_limited",
      message: "Too many requests",
      retryable: true,
      retryAfterMs: 1500,
      code: "rate_limited",
    });
    expect(chunks).toEqual(["part"]);
  });

  it("reports a dropped connection (stream ends without done) as a retryable network failure", async () => {
    const { promise } = await collect([meta, frame(2, { chunk: "part" })]);
    const error = await promise.catch((e) => e);
    expect(error.failure).toMatchObject({ kind: "network", retryable: true });
  });

  it("reports a stream error mid-read as a retryable network failure", async () => {
    const { promise } = await collect([meta, frame(2, { chunk: "part" })], { dropAfter: true });
    expect((await promise.catch((e) => e)).failure).toMatchObject({ kind: "network", retryable: true });
  });

  it("shows the problem+json detail of an HTTP error", async () => {
    const fetchImpl = (async () =>
      new Response(
        JSON.stringify({
          type: "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1",
          title: "The chat request is invalid.",
          status: 400,
          detail: "The message must not be empty.",
          errors: { message: ["The message must not be empty."] },
        }),
        { status: 400, headers: { "content-type": "application/problem+json" } },
      )) as unknown as typeof fetch;
    const error = await streamChat("/x", { message: " ", history: [] }, new AbortController().signal, { onChunk: () => {} }, fetchImpl).catch(
      (e) => e,
    );
    expect(error.failure).toEqual({ kind: "http", message: "The message must not be empty.", retryable: false, retryAfterMs: undefined, status: 400 });
  });

  it("reads the wait from the problem body's retryAfterSeconds, which a cross-origin page can read", async () => {
    // What a page on the Static Web App sees from the Function App: Retry-After is not CORS-safelisted, so the
    // browser hides it; only the body says how long to wait.
    const fetchImpl = (async () =>
      new Response(JSON.stringify({ title: "Too many chat requests.", detail: "Slow down.", retryAfterSeconds: 12 }), {
        status: 429,
        headers: { "content-type": "application/problem+json" },
      })) as unknown as typeof fetch;
    const error = await streamChat("/x", { message: "m", history: [] }, new AbortController().signal, { onChunk: () => {} }, fetchImpl).catch(
      (e) => e,
    );
    expect(error.failure).toMatchObject({ kind: "rate_limited", message: "Slow down.", retryable: true, retryAfterMs: 12_000 });
  });

  it("prefers the body's retryAfterSeconds and ignores one that is not a non-negative number", () => {
    const headers = new Headers({ "retry-after": "7" });
    expect(retryAfterOf({ retryAfterSeconds: 3 }, headers)).toBe(3000);
    expect(retryAfterOf({ retryAfterSeconds: "3" }, headers)).toBe(7000);
    expect(retryAfterOf({ retryAfterSeconds: -1 }, headers)).toBe(7000);
    expect(retryAfterOf({}, new Headers())).toBeUndefined();
  });

  it("treats 429/503 as retryable and honours Retry-After on the same origin", async () => {
    const fetchImpl = (async () =>
      new Response(JSON.stringify({ title: "Busy" }), {
        status: 429,
        headers: { "content-type": "application/problem+json", "retry-after": "7" },
      })) as unknown as typeof fetch;
    const error = await streamChat("/x", { message: "m", history: [] }, new AbortController().signal, { onChunk: () => {} }, fetchImpl).catch(
      (e) => e,
    );
    expect(error.failure).toMatchObject({ kind: "rate_limited", message: "Busy", retryable: true, retryAfterMs: 7000 });
  });

  it("reports an unreachable server as a retryable network failure", async () => {
    const fetchImpl = (async () => Promise.reject(new TypeError("Failed to fetch"))) as unknown as typeof fetch;
    const error = await streamChat("/x", { message: "m", history: [] }, new AbortController().signal, { onChunk: () => {} }, fetchImpl).catch(
      (e) => e,
    );
    expect(error.failure).toMatchObject({ kind: "network", retryable: true });
  });

  it("rejects with the AbortError (not a failure) when the user stops", async () => {
    const controller = new AbortController();
    const fetchImpl = (async (_u: string, init: RequestInit) =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(encoder.encode(meta + frame(2, { chunk: "x" })));
            init.signal!.addEventListener("abort", () => c.error(init.signal!.reason));
          },
        }),
      )) as unknown as typeof fetch;
    const chunks: string[] = [];
    let chunked!: () => void;
    const firstChunk = new Promise<void>((resolve) => (chunked = resolve));
    const onChunk = (t: string) => {
      chunks.push(t);
      chunked();
    };
    const promise = streamChat("/x", { message: "m", history: [] }, controller.signal, { onChunk }, fetchImpl);
    await firstChunk; // the stream is being read: the user stops mid-reply
    controller.abort();
    const error = await promise.catch((e) => e);
    expect(error).not.toBeInstanceOf(StreamFailure);
    expect(error.name).toBe("AbortError");
    expect(chunks).toEqual(["x"]);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("stop", () => {
  /** A fetch that answers each DELETE with the next status; 504s carry a problem body with retryAfterSeconds. */
  function deleteFetch(statuses: Array<number | "network">) {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      const status = statuses[Math.min(calls.length - 1, statuses.length - 1)];
      if (status === "network") throw new TypeError("network error");
      if (status === 204) return new Response(null, { status });
      return new Response(JSON.stringify({ status, title: "The stop was not confirmed.", retryAfterSeconds: 2 }), {
        status,
        headers: { "content-type": "application/problem+json" },
      });
    }) as unknown as typeof fetch;
    return { fetchImpl, calls };
  }

  it("asks again after an unconfirmed stop (504), waiting what the body says, until the stop is confirmed", async () => {
    const { fetchImpl, calls } = deleteFetch([504, "network", 204]);
    const waits: number[] = [];
    await createChatApi("https://api.test", fetchImpl, async (ms) => void waits.push(ms)).stop("abc");
    expect(calls.map((c) => [c.url, c.init.method])).toEqual(Array(3).fill(["https://api.test/api/chat/streams/abc", "DELETE"]));
    expect(waits).toEqual([2000, 1000]);
  });

  it("gives up with an error after STOP_ATTEMPTS unconfirmed answers, and never retries an answer a retry cannot change", async () => {
    const unconfirmed = deleteFetch([504]);
    await expect(createChatApi("", unconfirmed.fetchImpl, async () => {}).stop("abc")).rejects.toThrow(/not confirmed/);
    expect(unconfirmed.calls).toHaveLength(STOP_ATTEMPTS);

    const gone = deleteFetch([404]);
    await createChatApi("", gone.fetchImpl, async () => {}).stop("abc");
    expect(gone.calls).toHaveLength(1);
  });
});
