// A loopback front for the real backend, so the page, the API and the test's own stand-ins share one
// origin (Chromium refuses a page's fetch to another loopback port: Local Network Access). It
// forwards every request to the backend unchanged, streaming, except:
// - POST /api/chat/stream whose message contains a [stub:...] marker is answered here, in the same
//   wire protocol (SSE frames with `<streamId>:<seq>` ids), for replies the demo model cannot give:
//   a 2,000-line code block, a reply that pauses right after a list or inside a code block, a 400-character line of code;
// - `dropNextStream(frames)` cuts the connection of the next streamed reply after that many frames,
//   the way a network drop does (the backend sees its client go away);
// - `dropStreams()` cuts every streamed reply flowing now, whenever the test chooses;
// - `holdNextStream(frames)` stops passing the next streamed reply on after that many frames (the backend still writes
//   it, the proxy keeps it) until `releaseHeld()`: a reply that stays in progress for as long as the test acts on it.
import { randomBytes } from "node:crypto";
import { createServer, request } from "node:http";

/**
 * Node closes a keep-alive connection after 5 s idle; a client that reuses it at that moment gets a reset (Playwright's
 * route.fetch does not retry one, as a browser would). A test server keeps its idle connections longer than any test
 * file runs, until it is stopped.
 */
export function keepIdleConnections(server) {
  const keepAliveMs = 15 * 60_000;
  server.keepAliveTimeout = keepAliveMs;
  server.headersTimeout = keepAliveMs + 1_000;
}

/** Reply scripts by message content: the text chunks, one per token. */
export function scriptFor(message) {
  const code = /\[stub:code=(\d+)\]/.exec(message);
  if (code) {
    const lines = Number(code[1]);
    const chunks = ["Here is the file:\n\n", "```python\n"];
    for (let i = 1; i <= lines; i++) chunks.push(`def f${i}(x):`, ` return x * ${i}`, `  # line ${i}\n`);
    chunks.push("```\n", "\nDone.");
    return { chunks };
  }
  if (message.includes("[stub:long-line]")) {
    return { chunks: ["Long line:\n\n", "```js\n", `const long = "${"x".repeat(400)}";\n`, "```\n"] };
  }
  if (message.includes("[stub:code-then-wait]")) {
    return { chunks: ["Code:\n\n", "```python\n", "def f(x):\n", "    return x\n"], holdMs: 60_000 };
  }
  if (message.includes("[stub:list-then-wait]")) {
    return { chunks: ["Steps:\n\n", "1. one\n", "2. two\n", "3. three"], holdMs: 60_000 };
  }
  return undefined;
}

async function stubReply(req, res, script, tokenDelayMs) {
  const streamId = randomBytes(16).toString("base64url");
  let seq = 0;
  const frame = (data) => res.write(`id: ${streamId}:${++seq}\ndata: ${JSON.stringify(data)}\n\n`);
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
  frame({ meta: { requestId: "stub", streamId, provider: "stub", model: "stub" } });
  let closed = false;
  res.on("close", () => (closed = true));
  for (let i = 0; i < script.chunks.length && !closed; i++) {
    frame({ chunk: script.chunks[i] });
    // Timers are clamped near 1 ms, so a few tokens per tick keeps the pace near tokenDelayMs per token.
    if (i % 4 === 3) await new Promise((r) => setTimeout(r, tokenDelayMs * 4));
  }
  if (script.holdMs) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, script.holdMs);
      res.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  if (closed) return;
  frame({ done: true, finishReason: "stop", usage: { outputTokens: script.chunks.length } });
  res.end();
}

export function startProxy(backendUrl, { tokenDelayMs = 1 } = {}) {
  const target = new URL(backendUrl);
  let dropAfterFrames = null;
  let holdAfterFrames = null;
  /** Streamed replies held back now: the release that passes on what was kept and lets the rest flow. */
  const held = new Set();
  const drops = [];
  /** Streamed replies flowing now: the cut that ends each one. */
  const open = new Set();

  const server = createServer(async (req, res) => {
    const body = [];
    for await (const part of req) body.push(part);
    const payload = Buffer.concat(body);
    if (req.method === "POST" && req.url === "/api/chat/stream") {
      let message = "";
      try {
        message = JSON.parse(payload.toString("utf8")).message ?? "";
      } catch {
        // forwarded as is; the backend answers the bad request
      }
      const script = scriptFor(message);
      if (script) return stubReply(req, res, script, tokenDelayMs);
    }
    const isStream = req.url === "/api/chat/stream" || req.url.startsWith("/api/chat/streams/");
    const cutAfter = isStream && req.method !== "DELETE" ? dropAfterFrames : null;
    if (cutAfter !== null) dropAfterFrames = null;
    const holdAfter = isStream && req.method !== "DELETE" && cutAfter === null ? holdAfterFrames : null;
    if (holdAfter !== null) holdAfterFrames = null;

    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        if (isStream && req.method !== "DELETE") {
          const cut = () => {
            drops.push({ url: req.url, frames: null });
            res.socket?.destroy();
            answer.destroy();
          };
          open.add(cut);
          res.on("close", () => open.delete(cut));
        }
        let frames = 0;
        let kept = null;
        let heldOnce = false;
        let ended = false;
        const release = () => {
          held.delete(release);
          for (const data of kept ?? []) res.write(data);
          kept = null;
          if (ended) res.end();
        };
        answer.on("data", (data) => {
          if (kept) return void kept.push(data);
          res.write(data);
          if (holdAfter !== null && !heldOnce) {
            frames += data.toString("utf8").split("\n\n").length - 1;
            if (frames >= holdAfter) {
              heldOnce = true;
              kept = [];
              held.add(release);
            }
          }
          if (cutAfter === null) return;
          frames += data.toString("utf8").split("\n\n").length - 1;
          if (frames >= cutAfter) {
            // A dropped connection: no end of the chunked body, the socket just goes away.
            drops.push({ url: req.url, frames });
            res.socket?.destroy();
            answer.destroy();
          }
        });
        answer.on("end", () => (kept ? (ended = true) : res.end()));
        answer.on("error", () => res.socket?.destroy());
      },
    );
    upstream.on("error", () => res.socket?.destroy());
    res.on("close", () => upstream.destroy());
    upstream.end(payload);
  });

  keepIdleConnections(server);
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        /** The next streamed reply (POST or resume GET) loses its connection after `frames` SSE frames. */
        dropNextStream(frames) {
          dropAfterFrames = frames;
        },
        /** Cuts every streamed reply flowing now; returns how many were cut. */
        dropStreams() {
          const cuts = [...open];
          open.clear();
          for (const cut of cuts) cut();
          return cuts.length;
        },
        /** The next streamed reply (POST or resume GET) is held back after `frames` SSE frames, until `releaseHeld()`. */
        holdNextStream(frames) {
          holdAfterFrames = frames;
        },
        /** Passes on what the held replies kept, and lets them flow again. */
        releaseHeld() {
          for (const release of [...held]) release();
        },
        drops,
        stop: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
