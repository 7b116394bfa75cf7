// Browser test of a reasoning model's long think: the page shows "Thinking… N s" (not the waiting dots, not a
// reconnect) for the whole silence, and the connection, the server's timers and the page's hold through it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DESKTOP, lastReply, launchBrowser, openChat, sendMessage, startBackend, stat, waitForReplyEnd } from "./harness.mjs";

// Every timer that a silent model runs into, each set so that the think outlasts it at least twice, so that the test
// fails if any of them treats thinking as a stall: the server's heartbeat (a comment when nothing was written, which
// must keep coming), the model's idle timeout (which applies once tokens flow, never to the think before them), and
// the stall timeout of a client that accepts nothing (a page that waits still reads every heartbeat). The page has no
// silence timer of its own: a think of any length must not make it reconnect. The thinking timeout, the one timer
// meant to end a think, stays far above it.
const timers = { CHAT_HEARTBEAT_SECONDS: 2, CHAT_UPSTREAM_IDLE_TIMEOUT_SECONDS: 3, CHAT_CLIENT_STALL_TIMEOUT_SECONDS: 5 };
// At least 10 s, and at least twice the longest timer plus one.
const thinkSeconds = Math.max(10, 2 * Math.max(...Object.values(timers)) + 1);
const thinkingTimeoutSeconds = 3 * thinkSeconds;

let backend;
let browser;
let context;

before(async () => {
  [backend, browser] = await Promise.all([
    startBackend({
      tokenDelayMs: 5,
      env: Object.fromEntries(Object.entries({ ...timers, CHAT_THINKING_TIMEOUT_SECONDS: thinkingTimeoutSeconds }).map(([k, v]) => [k, String(v)])),
    }),
    launchBrowser(),
  ]);
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
    const seen = [];
    while ((await lastReply(page).getAttribute("data-status")) === "streaming" && (await thinking.count()) > 0) {
      const seconds = await thinking.getAttribute("data-thinking-seconds").catch(() => null);
      if (seconds !== null && Number(seconds) !== seen.at(-1)) seen.push(Number(seconds));
      assert.equal(await lastReply(page).locator(".typing").count(), 0, "thinking is not shown as the waiting dots");
      assert.equal(await page.locator("article.message.assistant.stale").count(), 0, "thinking is not shown as a reconnect");
      assert.equal(await lastReply(page).locator(".notice").count(), 0, "no reconnect, resume or error notice while thinking");
      // Until the counter moves on or the think ends (the page redraws it every 250 ms).
      await page.waitForFunction((previous) => {
        const replies = document.querySelectorAll("article.message.assistant");
        const last = replies[replies.length - 1];
        const counter = last?.querySelector(".thinking");
        return !counter || last.getAttribute("data-status") !== "streaming" || counter.getAttribute("data-thinking-seconds") !== previous;
      }, seconds, { timeout: (thinkSeconds + 10) * 1000 });
    }
    // It counts up, one second at a time (a busy machine may make the loop miss one value, never go back).
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, `the counter went back: ${seen.join(", ")}`);
    assert.ok(seen.length >= thinkSeconds / 2, `the counter showed ${seen.length} values over a ${thinkSeconds} s think: ${seen.join(", ")}`);
    const longest = Math.max(...seen);
    // The counter shows whole seconds since the thinking frame; the frame comes at once, so it reaches the think less one.
    assert.ok(longest >= thinkSeconds - 1, `the counter reached ${longest} s of a ${thinkSeconds} s think (saw ${seen.join(", ")})`);

    await waitForReplyEnd(page);
    const reply = lastReply(page);
    assert.equal(await reply.getAttribute("data-status"), "done");
    assert.match(await reply.locator(".reply").innerText(), /ChatFunctions demo model/);
    assert.equal(await stat(page, "reconnects"), "0");
    assert.equal(await stat(page, "resumes"), "0");
    assert.equal(await stat(page, "retries"), "0");
    assert.equal(await reply.locator(".notice").count(), 0, "no error, reconnect or resume notice under the reply");

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
