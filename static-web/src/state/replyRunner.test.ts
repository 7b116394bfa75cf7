import { describe, expect, it, vi } from "vitest";
import { authorizedFetch, SignInRequiredError, type TokenSource } from "../api/auth";
import { createChatApi } from "../api/chatClient";
import { MAX_RESUMES, runReply, type RunEvents } from "./replyRunner";

const encoder = new TextEncoder();
const STREAM = "q3ZxAbCdEfGhIjKlMnOpQr";

/** The frames a complete reply would send, ids `<streamId>:<seq>` as the contract says. */
function frames(texts: string[], streamId = STREAM): string[] {
  const data = [
    { meta: { requestId: "r1", streamId, provider: "demo", model: "demo" } },
    ...texts.map((chunk) => ({ chunk })),
    { done: true, finishReason: "stop", usage: { outputTokens: texts.length } },
  ];
  return data.map((d, i) => `id: ${streamId}:${i + 1}\ndata: ${JSON.stringify(d)}\n\n`);
}

/** A response streaming `pieces`, then closing, or failing like a dropped connection. */
function sse(pieces: string[], drop = false): Response {
  let next = 0;
  return new Response(
    // One piece per read, so everything before the drop is delivered (error() would discard queued pieces).
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (next < pieces.length) controller.enqueue(encoder.encode(pieces[next++]));
        else if (drop) controller.error(new TypeError("network error"));
        else controller.close();
      },
    }),
    { status: 200, headers: { "content-type": "text/event-stream" } },
  );
}

const problem = (status: number, body: object, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/problem+json", ...headers } });

interface Call {
  method: string;
  url: string;
  headers: Headers;
}

/** A fake API: `handler` answers each call in order; calls are recorded with their headers. */
function fakeFetch(handler: (call: Call, index: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = { method: init?.method ?? "GET", url: String(input), headers: new Headers(init?.headers) };
    calls.push(call);
    return handler(call, calls.length - 1);
  }) as typeof fetch;
  return { fetchImpl, calls };
}

function recorder() {
  const log: string[] = [];
  let text = "";
  const events: RunEvents = {
    onMeta: (m) => log.push(`meta ${m.streamId}`),
    onChunk: (t) => (text += t),
    onRestarting: (n, _at, reason) => {
      log.push(`restart ${n} ${reason.message}`);
      text = "";
    },
    onResuming: (n) => log.push(`resuming ${n}`),
    onResumed: () => log.push("resumed"),
  };
  return { events, log, text: () => text };
}

const noSleep = async () => {};
const body = { message: "hi", history: [] };

describe("runReply: resuming a dropped reply", () => {
  const all = frames(["The ", "same ", "reply ", "continues."]);

  it("resumes with GET /api/chat/streams/{id} and Last-Event-ID; the text equals the uninterrupted reply", async () => {
    const { fetchImpl, calls } = fakeFetch((call, i) => {
      if (i === 0) return sse(all.slice(0, 3), true); // meta + 2 chunks, then the connection drops
      expect(call.headers.get("Last-Event-ID")).toBe(`${STREAM}:3`);
      return sse(all.slice(3));
    });
    const r = recorder();
    const outcome = await runReply(createChatApi("https://api.test", fetchImpl), body, new AbortController().signal, r.events, { sleep: noSleep });
    expect(outcome.kind).toBe("done");
    expect(r.text()).toBe("The same reply continues.");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "POST https://api.test/api/chat/stream",
      `GET https://api.test/api/chat/streams/${STREAM}`,
    ]);
    expect(r.log).toEqual([`meta ${STREAM}`, "resuming 1", "resumed"]);
  });

  it("resumes again when the resumed connection drops too, from the newest id", async () => {
    const { fetchImpl, calls } = fakeFetch((_call, i) =>
      i === 0 ? sse(all.slice(0, 2), true) : i === 1 ? sse(all.slice(2, 4), true) : sse(all.slice(4)),
    );
    const r = recorder();
    await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, r.events, { sleep: noSleep });
    expect(calls.map((c) => c.headers.get("Last-Event-ID"))).toEqual([null, `${STREAM}:2`, `${STREAM}:4`]);
    expect(r.text()).toBe("The same reply continues.");
  });

  it.each([404, 410])("regenerates only when the server no longer has the stream (%i)", async (status) => {
    const { fetchImpl, calls } = fakeFetch((_call, i) =>
      i === 0 ? sse(all.slice(0, 3), true) : i === 1 ? problem(status, { title: "gone", errors: { streamId: ["unknown"] } }) : sse(all),
    );
    const r = recorder();
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, r.events, { sleep: noSleep });
    expect(outcome.kind).toBe("done");
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET", "POST"]);
    expect(r.log.filter((l) => l.startsWith("restart"))).toHaveLength(1);
    expect(r.text()).toBe("The same reply continues.");
  });

  it("a 400 on resume is not papered over with a new model call", async () => {
    const { fetchImpl, calls } = fakeFetch((_call, i) =>
      i === 0 ? sse(all.slice(0, 3), true) : problem(400, { title: "Bad id", errors: { "Last-Event-ID": ["bad"] } }),
    );
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, { sleep: noSleep });
    expect(outcome).toMatchObject({ kind: "failed", failure: { status: 400 } });
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET"]);
  });

  it("a drop before the stream had an id re-asks (nothing to resume)", async () => {
    const { fetchImpl, calls } = fakeFetch((_call, i) => (i === 0 ? sse([], true) : sse(all)));
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, { sleep: noSleep });
    expect(outcome.kind).toBe("done");
    expect(calls.map((c) => c.method)).toEqual(["POST", "POST"]);
  });

  it("Stop aborts the fetch and sends DELETE /api/chat/streams/{id}", async () => {
    const controller = new AbortController();
    let deleted: Call | undefined;
    const { fetchImpl } = fakeFetch((call) => {
      if (call.method === "DELETE") {
        deleted = call;
        return new Response(null, { status: 204 });
      }
      // meta + one chunk, then the stream stays open until aborted.
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(encoder.encode(all[0] + all[1]));
            controller.signal.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError")));
          },
        }),
      );
    });
    const r = recorder();
    r.events.onChunk = () => controller.abort();
    const outcome = await runReply(createChatApi("https://api.test", fetchImpl), body, controller.signal, r.events, { sleep: noSleep });
    expect(outcome.kind).toBe("stopped");
    expect(deleted?.url).toBe(`https://api.test/api/chat/streams/${STREAM}`);
  });

  it("an `incomplete` error frame ends the reply as incomplete, without an automatic restart", async () => {
    const cut = [
      all[0],
      all[1],
      `id: ${STREAM}:3\ndata: ${JSON.stringify({ error: { code: "incomplete", message: "The model's reply was cut off before it finished.", retryable: true } })}\n\n`,
      `id: ${STREAM}:4\ndata: ${JSON.stringify({ done: true, finishReason: "error" })}\n\n`,
    ];
    const { fetchImpl, calls } = fakeFetch(() => sse(cut));
    const r = recorder();
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, r.events, { sleep: noSleep });
    expect(outcome).toMatchObject({ kind: "failed", failure: { kind: "incomplete", retryable: true } });
    expect(r.text()).toBe("The ");
    expect(calls).toHaveLength(1);
  });

  it("finishReason error without an error frame is incomplete too", async () => {
    const ended = [all[0], all[1], `id: ${STREAM}:3\ndata: ${JSON.stringify({ done: true, finishReason: "error" })}\n\n`];
    const { fetchImpl } = fakeFetch(() => sse(ended));
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, { sleep: noSleep });
    expect(outcome).toMatchObject({ kind: "failed", failure: { kind: "incomplete" } });
  });
});

describe("sign-in: the bearer token on every API call", () => {
  /** A fake MSAL-backed token source: hands out numbered tokens and records forced refreshes. */
  function tokens(): TokenSource & { forced: number } {
    let issued = 0;
    const source = {
      forced: 0,
      async getToken(options?: { forceRefresh?: boolean }) {
        if (options?.forceRefresh) source.forced++;
        return `token-${++issued}`;
      },
    };
    return source;
  }
  const all = frames(["a", "b"]);

  it("sends Authorization: Bearer on the POST, the resume GET and the DELETE", async () => {
    const source = tokens();
    const controller = new AbortController();
    const { fetchImpl, calls } = fakeFetch((call, i) => {
      if (call.method === "DELETE") return new Response(null, { status: 204 });
      if (i === 0) return sse(all.slice(0, 2), true);
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(encoder.encode(all[2]));
            controller.signal.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError")));
          },
        }),
      );
    });
    const api = createChatApi("https://api.test", authorizedFetch(source, fetchImpl));
    const r = recorder();
    r.events.onChunk = (t) => t === "b" && controller.abort();
    await runReply(api, body, controller.signal, r.events, { sleep: noSleep });
    await Promise.resolve();
    expect(calls.map((c) => [c.method, c.headers.get("Authorization")])).toEqual([
      ["POST", "Bearer token-1"],
      ["GET", "Bearer token-2"],
      ["DELETE", "Bearer token-3"],
    ]);
  });

  it("on 401 re-acquires the token once and repeats the call", async () => {
    const source = tokens();
    const { fetchImpl, calls } = fakeFetch((_call, i) => (i === 0 ? problem(401, { title: "Unauthorized" }) : sse(all)));
    const outcome = await runReply(createChatApi("", authorizedFetch(source, fetchImpl)), body, new AbortController().signal, recorder().events, {
      sleep: noSleep,
    });
    expect(outcome.kind).toBe("done");
    expect(source.forced).toBe(1);
    expect(calls.map((c) => c.headers.get("Authorization"))).toEqual(["Bearer token-1", "Bearer token-2"]);
  });

  it("a second 401, or no token without interaction, asks the user to sign in (no automatic retry)", async () => {
    const { fetchImpl } = fakeFetch(() => problem(401, { title: "Unauthorized" }));
    const outcome = await runReply(createChatApi("", authorizedFetch(tokens(), fetchImpl)), body, new AbortController().signal, recorder().events, {
      sleep: noSleep,
    });
    expect(outcome).toMatchObject({ kind: "failed", failure: { kind: "auth", retryable: false } });

    const signedOut: TokenSource = { getToken: async () => Promise.reject(new SignInRequiredError()) };
    const { fetchImpl: never, calls } = fakeFetch(() => sse(all));
    const outcome2 = await runReply(createChatApi("", authorizedFetch(signedOut, never)), body, new AbortController().signal, recorder().events, {
      sleep: noSleep,
    });
    expect(outcome2).toMatchObject({ kind: "failed", failure: { kind: "auth" } });
    expect(calls).toHaveLength(0);
  });

  it("anonymous (no auth in config): no Authorization header", async () => {
    const { fetchImpl, calls } = fakeFetch(() => sse(all));
    await runReply(createChatApi("", authorizedFetch(null, fetchImpl)), body, new AbortController().signal, recorder().events, { sleep: noSleep });
    expect(calls[0].headers.has("Authorization")).toBe(false);
  });

  it("a spent daily budget (429 with errors.budget) fails at once with the local reset time, not retryable", async () => {
    const resetAt = "2026-11-26T00:00:00Z";
    const { fetchImpl, calls } = fakeFetch(() =>
      problem(429, { title: "Token budget spent", status: 429, errors: { budget: ["spent"] }, resetAt }, { "retry-after": "3600" }),
    );
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, { sleep: noSleep });
    expect(outcome).toMatchObject({ kind: "failed", failure: { kind: "budget", retryable: false, resetAt: Date.parse(resetAt) } });
    const local = new Date(resetAt).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    expect(outcome.kind === "failed" && outcome.failure.message).toContain(local);
    expect(outcome.kind === "failed" && outcome.failure.message).toMatch(/^Daily token budget spent, resets at /);
    expect(calls).toHaveLength(1);
  });
});

describe("runReply: picking up, re-asking, offline", () => {
  const all = frames(["The ", "same ", "reply ", "continues."]);
  const noNetwork = () => Promise.reject(new TypeError("Failed to fetch"));

  it("picks up a saved position with GET and Last-Event-ID: no POST, the rest of the same reply", async () => {
    const { fetchImpl, calls } = fakeFetch(() => sse(all.slice(3)));
    const r = recorder();
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, r.events, {
      sleep: noSleep,
      resumeFrom: { streamId: STREAM, lastEventId: `${STREAM}:3` },
    });
    expect(outcome.kind).toBe("done");
    expect(calls.map((c) => [c.method, c.headers.get("Last-Event-ID")])).toEqual([["GET", `${STREAM}:3`]]);
    expect(r.text()).toBe("reply continues.");
    expect(r.log).toEqual(["resumed"]);
  });

  it("a saved position the server no longer has (404) is asked again, labelled as the server's loss, not a network one", async () => {
    const reasons: { message: string; network: boolean }[] = [];
    const { fetchImpl, calls } = fakeFetch((_call, i) => (i === 0 ? problem(404, { title: "gone", errors: { streamId: ["unknown"] } }) : sse(all)));
    const r = recorder();
    const outcome = await runReply(
      createChatApi("", fetchImpl),
      body,
      new AbortController().signal,
      { ...r.events, onRestarting: (_n, _at, reason, network) => reasons.push({ message: reason.message, network }) },
      { sleep: noSleep, resumeFrom: { streamId: STREAM, lastEventId: `${STREAM}:3` } },
    );
    expect(outcome.kind).toBe("done");
    expect(calls.map((c) => c.method)).toEqual(["GET", "POST"]);
    expect(reasons).toEqual([{ message: "The server no longer had this reply, so the question is asked again.", network: false }]);
  });

  it("picked up after a reload, a stream the server no longer has is not asked again by itself: Retry is the user's", async () => {
    const { fetchImpl, calls } = fakeFetch(() => problem(410, { title: "expired", errors: { streamId: ["expired"] } }));
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, {
      sleep: noSleep,
      resumeFrom: { streamId: STREAM, lastEventId: `${STREAM}:3` },
      askAgainIfGone: false,
    });
    expect(outcome).toMatchObject({ kind: "failed", failure: { kind: "server", retryable: true, status: 410 } });
    expect(calls.map((c) => c.method)).toEqual(["GET"]);
  });

  it("a follower (another tab owns the reply) never asks again: a lost stream ends its run as lost", async () => {
    const { fetchImpl, calls } = fakeFetch(() => problem(404, { title: "gone", errors: { streamId: ["unknown"] } }));
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, {
      sleep: noSleep,
      resumeFrom: { streamId: STREAM, lastEventId: `${STREAM}:3` },
      follow: true,
    });
    expect(outcome.kind).toBe("lost");
    expect(calls.map((c) => c.method)).toEqual(["GET"]);
  });

  it("a retryable server error frame mid-reply asks again (new POST), never resumes the ended stream; counted as a server retry", async () => {
    const failing = [
      `id: ${STREAM}:1\ndata: ${JSON.stringify({ meta: { requestId: "r", streamId: STREAM, provider: "demo", model: "demo" } })}\n\n`,
      `id: ${STREAM}:2\ndata: ${JSON.stringify({ chunk: "Half " })}\n\n`,
      `id: ${STREAM}:3\ndata: ${JSON.stringify({ error: { code: "upstream_unavailable", message: "Model down.", retryable: true } })}\n\n`,
      `id: ${STREAM}:4\ndata: ${JSON.stringify({ done: true, finishReason: "error" })}\n\n`,
    ];
    const networkFlags: boolean[] = [];
    const { fetchImpl, calls } = fakeFetch((_call, i) => (i === 0 ? sse(failing) : sse(frames(["Whole."], "otherStreamIdAbcdefghi"))));
    const r = recorder();
    const outcome = await runReply(
      createChatApi("", fetchImpl),
      body,
      new AbortController().signal,
      { ...r.events, onRestarting: (_n, _at, _reason, network) => networkFlags.push(network) },
      { sleep: noSleep },
    );
    expect(outcome.kind).toBe("done");
    expect(calls.map((c) => c.method)).toEqual(["POST", "POST"]);
    expect(networkFlags).toEqual([false]);
  });

  it("offline: waits for `online` instead of spending attempts, then resumes at once", async () => {
    let online = true;
    let backOnline = () => {};
    const waits: number[] = [];
    const offlineEvents: boolean[] = [];
    const { fetchImpl, calls } = fakeFetch((_call, i) => {
      if (i === 0) {
        online = false; // the network goes while the reply streams
        return sse(all.slice(0, 3), true);
      }
      return sse(all.slice(3));
    });
    const r = recorder();
    const running = runReply(
      createChatApi("", fetchImpl),
      body,
      new AbortController().signal,
      { ...r.events, onOffline: (offline) => offlineEvents.push(offline) },
      {
        sleep: async (ms) => void waits.push(ms),
        connectivity: { online: () => online, waitOnline: () => new Promise<void>((resolve) => (backOnline = resolve)) },
      },
    );
    await vi.waitFor(() => expect(offlineEvents).toEqual([true]));
    expect(calls).toHaveLength(1); // nothing is tried while offline
    online = true;
    backOnline();
    const outcome = await running;
    expect(outcome.kind).toBe("done");
    expect(offlineEvents).toEqual([true, false]);
    expect(waits).toEqual([]); // no backoff, no attempt spent
    expect(calls.map((c) => c.headers.get("Last-Event-ID"))).toEqual([null, `${STREAM}:3`]);
    expect(r.text()).toBe("The same reply continues.");
  });

  it("sent while offline: the POST is tried again when the browser is back, without spending the retry budget", async () => {
    let online = false;
    const { fetchImpl, calls } = fakeFetch((_call, i) => (i < 4 ? noNetwork() : sse(all)));
    let waited = 0;
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, {
      sleep: noSleep,
      connectivity: {
        online: () => online,
        waitOnline: async () => {
          // Back online for one failed try at a time, then offline again.
          waited++;
          online = waited >= 4;
        },
      },
    });
    expect(outcome.kind).toBe("done");
    expect(calls.map((c) => c.method)).toEqual(["POST", "POST", "POST", "POST", "POST"]);
  });

  it(`online but unreachable: resumes back off 1, 2, 4, 8, 8 s (within the server's 30 s grace window), then fail with Retry`, async () => {
    const waits: number[] = [];
    const { fetchImpl, calls } = fakeFetch((_call, i) => (i === 0 ? sse(all.slice(0, 3), true) : noNetwork()));
    const outcome = await runReply(createChatApi("", fetchImpl), body, new AbortController().signal, recorder().events, {
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
    });
    expect(outcome.kind).toBe("failed");
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(waits.reduce((a, b) => a + b, 0) * 1.2).toBeLessThan(30_000); // even with full jitter
    expect(calls).toHaveLength(1 + MAX_RESUMES);
  });
});
