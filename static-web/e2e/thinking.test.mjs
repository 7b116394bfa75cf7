// Browser test of a reasoning model's long think: the page shows "Thinking… N s" (not the waiting dots, not a
// reconnect) for the whole silence, and the connection, the server's timers and the page's hold through it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DESKTOP, lastReply, launchBrowser, openChat, sendMessage, startBackend, stat, waitForReplyEnd } from "./harness.mjs";

// The server's timers that a silent model runs into, set low so that a short think outlasts every one of them:
// the heartbeat (a comment when nothing was written), the model's idle timeout (which the think must not trip) and
// the stall timeout of a client that accepts nothing (which a waiting page must not trip either).
const timers = { CHAT_HEARTBEAT_SECONDS: 1, CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS: 1, CHAT_CLIENT_STALL_TIMEOUT_SECONDS: 2 };
// Twice the longest timer, plus one: each fires (or would) at least once during the think.
const thinkSeconds = 2 * Math.max(...Object.values(timers)) + 1;

let backend;
let browser;
let context;

before(async () => {
  backend = await startBackend({ tokenDelayMs: 5, env: Object.fromEntries(Object.entries(timers).map(([k, v]) => [k, String(v)])) });
  browser = await launchBrowser();
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await backend?.stop();
});

describe("a model that thinks before it speaks", () => {
  test(`a ${thinkSeconds} s think shows as "Thinking… N s", counting, with no reconnect, then the reply and its split metrics`, async () => {
    context = await browser.newContext({ viewport: DESKTOP });
    const { page, problems } = await openChat(context, backend.baseUrl);
    await sendMessage(page, `Think first [demo:think=${thinkSeconds}]`);

    const thinking = lastReply(page).locator(".thinking");
    await thinking.waitFor({ state: "visible", timeout: 10_000 });
    assert.match(await thinking.innerText(), /^Thinking… \d+ s$/);

    // Watch the whole think: the counter climbs, and the reply never looks like it is waiting or reconnecting.
    const seen = new Set();
    while ((await lastReply(page).getAttribute("data-status")) === "streaming" && (await thinking.count()) > 0) {
      const seconds = await thinking.getAttribute("data-thinking-seconds").catch(() => null);
      if (seconds !== null) seen.add(Number(seconds));
      assert.equal(await lastReply(page).locator(".typing").count(), 0, "thinking is not shown as the waiting dots");
      assert.equal(await page.locator("article.message.assistant.stale").count(), 0, "thinking is not shown as a reconnect");
      // Until the counter moves on or the think ends (the page redraws it every 250 ms).
      await page.waitForFunction((previous) => {
        const replies = document.querySelectorAll("article.message.assistant");
        const last = replies[replies.length - 1];
        const counter = last?.querySelector(".thinking");
        return !counter || last.getAttribute("data-status") !== "streaming" || counter.getAttribute("data-thinking-seconds") !== previous;
      }, seconds, { timeout: (thinkSeconds + 10) * 1000 });
    }
    const longest = Math.max(...seen);
    // The counter shows whole seconds since the thinking frame; the frame comes at once, so it reaches the think less one.
    assert.ok(longest >= thinkSeconds - 1, `the counter reached ${longest} s of a ${thinkSeconds} s think (saw ${[...seen].join(", ")})`);

    await waitForReplyEnd(page);
    const reply = lastReply(page);
    assert.equal(await reply.getAttribute("data-status"), "done");
    assert.match(await reply.locator(".reply").innerText(), /ChatFunctions demo model/);
    assert.equal(await stat(page, "reconnects"), "0");
    assert.equal(await stat(page, "resumes"), "0");

    const metrics = reply.locator(".metrics");
    assert.match(await metrics.innerText(), /thought \d+\.\d\d s/);
    assert.match(await metrics.innerText(), /\d+ tokens \(\d+ reasoning\)/);
    const thinkingMs = Number(await metrics.getAttribute("data-server-thinking-ms"));
    assert.ok(thinkingMs >= thinkSeconds * 1000, `the server measured ${thinkingMs} ms of thinking for a ${thinkSeconds} s think`);
    // The demo reports 50 reasoning tokens per second of thought.
    assert.equal(Number(await metrics.getAttribute("data-reasoning-tokens")), thinkSeconds * 50);
    assert.deepEqual(problems, []);
  });
});
