// Rendering cost of a long reply: streams 5,000 tokens from the real backend and compares the
// main-thread cost per token of the first and the last 1,000. Re-parsing or re-rendering the whole
// reply per update would make the late tokens cost several times the early ones.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DESKTOP, artifactsDir, ensureDir, launchBrowser, openChat, sendMessage, startBackend, waitForReplyEnd } from "./harness.mjs";

const TOKENS = 5000;
const WINDOW = 1000;

let backend;
let browser;

before(async () => {
  // 1 ms per token: about as fast as the backend can go while still arriving over many frames.
  // The default output cap (CHAT_MAX_OUTPUT_TOKENS, 1024) would end the reply early.
  backend = await startBackend({ tokenDelayMs: 1, env: { CHAT_MAX_OUTPUT_TOKENS: String(TOKENS + 1000) } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

/** Sums a per-flush quantity over the chunk range [from, to), splitting flushes that straddle it. */
function sumOver(flushes, from, to, pick) {
  let chunk = 0;
  let total = 0;
  for (const flush of flushes) {
    const start = chunk;
    const end = chunk + flush.chunks;
    chunk = end;
    const overlap = Math.min(end, to) - Math.max(start, from);
    if (overlap > 0) total += (pick(flush) * overlap) / flush.chunks;
  }
  return total;
}

function windowStats(flushes, from, to, longTasks) {
  const inWindow = flushes.filter((_, i) => {
    const before = flushes.slice(0, i).reduce((n, f) => n + f.chunks, 0);
    return before < to && before + flushes[i].chunks > from;
  });
  return {
    tokens: to - from,
    flushes: inWindow.length,
    msPerToken: sumOver(flushes, from, to, (f) => f.ms) / (to - from),
    lexedCharsPerToken: sumOver(flushes, from, to, (f) => f.lexedChars) / (to - from),
    maxFlushMs: Math.max(...inWindow.map((f) => f.ms)),
    longTasksOver50ms: longTasks.filter((t) => t.chunksBefore >= from && t.chunksBefore < to).length,
  };
}

test(`render cost of a ${TOKENS}-token reply: last ${WINDOW} tokens vs first ${WINDOW}`, async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  try {
    const { page, problems } = await openChat(context, backend.baseUrl, { query: "?perf=1" });
    // Long tasks (>50 ms) anywhere on the main thread, tagged with how far the reply had got.
    await page.evaluate(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        const chunksBefore = (window.__chatPerf?.flushes ?? []).reduce((n, f) => n + f.chunks, 0);
        for (const entry of list.getEntries()) window.__longTasks.push({ ms: entry.duration, chunksBefore });
      }).observe({ type: "longtask", buffered: false });
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const taskDuration = async () =>
      (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration").value * 1000;

    const taskStart = await taskDuration();
    const started = Date.now();
    await sendMessage(page, `Long reply please [demo:tokens=${TOKENS}]`);
    assert.equal(await waitForReplyEnd(page, 180_000), "done");
    const wallMs = Date.now() - started;
    const taskMs = (await taskDuration()) - taskStart;

    const { flushes, longTasks } = await page.evaluate(() => ({ flushes: window.__chatPerf.flushes, longTasks: window.__longTasks }));
    const totalChunks = flushes.reduce((n, f) => n + f.chunks, 0);
    assert.equal(totalChunks, TOKENS, "every token went through a frame flush");
    assert.match(await page.locator("article.message.assistant .reply").innerText(), new RegExp(`token${TOKENS}\\b`));

    const first = windowStats(flushes, 0, WINDOW, longTasks);
    const last = windowStats(flushes, TOKENS - WINDOW, TOKENS, longTasks);
    const result = {
      measuredAt: new Date().toISOString(),
      backend: "ChatFunctions demo model, DEMO_TOKEN_DELAY_MS=1",
      browser: "Debian Chromium, headless",
      tokens: TOKENS,
      frameFlushes: flushes.length,
      wallClockMs: Math.round(wallMs),
      mainThreadTaskMs: Math.round(taskMs),
      mainThreadTaskMsPerToken: +(taskMs / TOKENS).toFixed(4),
      longTasksOver50ms: longTasks.length,
      first1000: round(first),
      last1000: round(last),
      ratioMsPerToken: +(last.msPerToken / first.msPerToken).toFixed(2),
      ratioLexedCharsPerToken: +(last.lexedCharsPerToken / first.lexedCharsPerToken).toFixed(2),
      method:
        "msPerToken: time inside the per-frame flush (React render + commit + the layout read by auto-scroll), " +
        "split across tokens by chunk count; lexedCharsPerToken: characters the markdown lexer processed per token; " +
        "mainThreadTaskMs: CDP Performance TaskDuration delta over the whole reply.",
    };
    ensureDir(artifactsDir);
    writeFileSync(join(artifactsDir, "render-cost.json"), JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(result, null, 2));

    // Sanity bounds only (speed is not asserted): quadratic re-rendering or re-parsing would blow these up.
    assert.ok(
      last.msPerToken <= 10 * Math.max(first.msPerToken, 0.05),
      `last ${WINDOW} tokens cost ${last.msPerToken.toFixed(3)} ms/token vs ${first.msPerToken.toFixed(3)} for the first`,
    );
    assert.ok(
      last.lexedCharsPerToken <= 3 * first.lexedCharsPerToken,
      `the lexer read ${last.lexedCharsPerToken.toFixed(1)} chars/token late vs ${first.lexedCharsPerToken.toFixed(1)} early: earlier text is being re-parsed`,
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

function round(stats) {
  return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, typeof v === "number" ? +v.toFixed(4) : v]));
}
