// Browser tests of "nothing the user has seen is lost": a reload mid-reply, a second tab, the browser
// going offline, and the backend killed and restarted mid-reply. Against the real backend (demo model);
// the connection cuts are real (proxy.mjs destroys the socket, or the backend process dies).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { lastReply, openChat, seriousA11yViolations, sendMessage, startBackend, startStack, stat, waitForReplyEnd } from "./harness.mjs";

/** Demo model pace: slow enough that a reply is still streaming when the test acts, fast enough for CI. */
const TOKEN_DELAY_MS = 15;
let stack;
let proxy;

before(async () => {
  stack = await startStack({ tokenDelayMs: TOKEN_DELAY_MS });
  ({ proxy } = stack);
});

after(async () => {
  await stack?.stop();
});

const newContext = () => stack.newContext();

const replyText = (page) => lastReply(page).locator(".reply").innerText();
const normalized = (text) => text.replace(/\s+/g, " ").trim();
/** The reply's text length in the page, read in one step (no await between reading and acting). */
const replyLength = (page) => page.evaluate(() => document.querySelector("article.message.assistant:last-of-type .reply")?.textContent?.length ?? 0);
const waitForText = (page, chars) =>
  page.waitForFunction((n) => (document.querySelector("article.message.assistant:last-of-type .reply")?.textContent ?? "").length > n, chars, {
    polling: 20,
    timeout: 30_000,
  });

/**
 * The text of an uninterrupted reply to `message`, in a chat and a browser context of its own, to compare with.
 * The demo model's reply depends on the message alone, so it streams beside the interrupted one (the test awaits it
 * where it compares), straight from the backend: the proxy's cuts and counts then see the interrupted reply only.
 */
function uninterrupted(message) {
  const text = (async () => {
    const context = await newContext();
    const { page } = await openChat(context, stack.backend.baseUrl);
    await sendMessage(page, message);
    assert.equal(await waitForReplyEnd(page), "done");
    const shown = await replyText(page);
    await context.close();
    return shown;
  })();
  // A test that fails before it compares does not also report this promise as unhandled; awaiting it still throws.
  text.catch(() => {});
  return text;
}

function countRequests(target) {
  const seen = [];
  target.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    // Turns and resumes (/api/chat/stream, /api/chat/streams/{id}); the title request after a first reply is not a turn.
    if (path.startsWith("/api/chat/stream")) seen.push({ method: request.method(), path, lastEventId: request.headers()["last-event-id"] });
  });
  return seen;
}

test("a reload mid-reply resumes the same reply: every character shown stays, nothing is asked twice, the statistics survive", async () => {
  const message = "Reload me [demo:tokens=400]";
  const expected = uninterrupted(message);
  const context = await newContext();
  const { page, problems } = await openChat(context, proxy.url);
  const requests = countRequests(page);
  await sendMessage(page, message);
  await waitForText(page, 300);

  // What was on screen as the page went away, recorded by the page itself (in this tab's sessionStorage,
  // which the reload keeps), to compare with the first thing shown after it.
  await page.evaluate(() =>
    addEventListener("pagehide", () =>
      sessionStorage.setItem("shownAtUnload", document.querySelector("article.message.assistant:last-of-type .reply").textContent),
    ),
  );
  await page.reload();
  await page.waitForSelector("article.message.assistant");
  const first = await page.evaluate(() => document.querySelector("article.message.assistant:last-of-type .reply")?.textContent ?? "");
  const shown = await page.evaluate(() => sessionStorage.getItem("shownAtUnload"));
  assert.ok(shown.length > 300);
  assert.ok(first.length >= shown.length, `after the reload ${first.length} characters, before it ${shown.length}: text disappeared`);

  assert.equal(await waitForReplyEnd(page), "done");
  assert.equal(await replyText(page), await expected, "the reply ends the way the uninterrupted one does: nothing lost, nothing repeated");
  assert.equal(await lastReply(page).locator('.notice.error').count(), 0, "not marked interrupted");
  assert.equal(requests.filter((r) => r.method === "POST").length, 1, "the turn was asked once");
  const resume = requests.find((r) => r.method === "GET");
  assert.ok(resume, "resumed with GET /api/chat/streams/{id}");
  assert.match(resume.lastEventId ?? "", /^[A-Za-z0-9_-]{22}:\d+$/);

  // The statistics panel is folded away, and kept with the chats: the reply sent before the reload counts.
  const stats = page.locator('[data-testid="stats"]');
  assert.equal(await stats.evaluate((el) => el.open), false, "closed by default");
  await stats.locator("summary").click();
  assert.equal(await stat(page, "replies"), "1");
  assert.equal(await stat(page, "resumes"), "1");
  assert.deepEqual(await seriousA11yViolations(page), []);
  assert.deepEqual(problems.filter((p) => !/ERR_ABORTED|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(p)), []);
});

test("a second tab shows the reply as it streams without owning it; closing the first hands the reply over", async () => {
  const message = "Two tabs [demo:tokens=500]";
  const expected = uninterrupted(message);
  const context = await newContext();
  const requests = countRequests(context);
  const { page: first } = await openChat(context, proxy.url);
  await sendMessage(first, message);
  await waitForText(first, 200);

  const { page: second } = await openChat(context, proxy.url);
  const followed = lastReply(second).locator('[data-notice="followed"]');
  await followed.waitFor();
  const before = await replyLength(second);
  await waitForText(second, before + 50); // it follows the stream, not a snapshot
  // Checked while the text is still growing: the axe run below can outlast the reply on a loaded machine.
  assert.equal(await second.getByRole("button", { name: "Stop generating" }).count(), 1, "Stop works from either tab");
  // The whole page while a long reply streams in a chat with nothing focusable in it (the scroller itself must be).
  assert.deepEqual(await seriousA11yViolations(second), []);

  // The owner goes away mid-reply: the second tab takes over and finishes the same reply.
  await first.close();
  assert.equal(await waitForReplyEnd(second), "done");
  assert.equal(await replyText(second), await expected);
  assert.equal(await followed.count(), 0);
  assert.equal(requests.filter((r) => r.method === "POST").length, 1, "one turn, never asked by both tabs");

  // What the second tab finished is what is kept.
  const { page: third } = await openChat(context, proxy.url);
  assert.equal(await waitForReplyEnd(third), "done");
  assert.equal(await replyText(third), await expected);
});

test("offline mid-reply: the page waits without spending retries, keeps the text, and resumes when back online", async () => {
  const message = "Offline [demo:tokens=500]";
  const expected = uninterrupted(message);
  const context = await newContext();
  const { page } = await openChat(context, proxy.url);
  const requests = countRequests(page);
  await sendMessage(page, message);
  await waitForText(page, 200);

  await context.setOffline(true);
  assert.equal(proxy.dropStreams(), 1, "the reply's connection is cut while offline");
  const offline = lastReply(page).locator('[data-notice="offline"]');
  await offline.waitFor();
  const kept = await replyLength(page);
  assert.ok(kept > 200, "the text so far stays");
  assert.match(await offline.innerText(), /Offline:[\s\S]*continues when the connection is back/);
  assert.equal(await lastReply(page).locator('[data-notice="reconnecting"], [data-notice="resuming"]').count(), 0, "no attempts while offline");
  assert.deepEqual(await seriousA11yViolations(page), []);

  await context.setOffline(false);
  assert.equal(await waitForReplyEnd(page), "done");
  assert.equal(await replyText(page), await expected);
  assert.equal(requests.filter((r) => r.method === "POST").length, 1, "resumed, not asked again");
  assert.equal(requests.filter((r) => r.method === "GET").length, 1, "one resume, after the connection came back");
});

test("sent while offline: nothing is spent until the browser is back, then the reply arrives", async () => {
  const context = await newContext();
  const { page } = await openChat(context, proxy.url);
  await context.setOffline(true);
  await sendMessage(page, "Sent offline [demo:tokens=30]");
  await lastReply(page).locator('[data-notice="offline"]').waitFor();
  assert.equal(await lastReply(page).locator('[data-notice="reconnecting"]').count(), 0);
  await context.setOffline(false);
  assert.equal(await waitForReplyEnd(page), "done");
  assert.equal(await stat(page, "retries"), "0");
});

test("the backend killed and restarted mid-reply: the text stays, labelled, and the reply recovers with a truthful rate", async () => {
  // Its own backend, restarted on the same address. Its streams are kept in memory (no storage), so the
  // restarted one no longer has the reply: the page must say so and ask again, keeping what it showed.
  const own = await startBackend({ tokenDelayMs: TOKEN_DELAY_MS });
  const port = Number(new URL(own.baseUrl).port);
  let restarted;
  try {
    const context = await newContext();
    const { page } = await openChat(context, own.baseUrl);
    const requests = countRequests(page);
    await sendMessage(page, "Crash [demo:tokens=600]");
    await waitForText(page, 300);

    await own.kill();
    const killedAt = Date.now();
    const resuming = lastReply(page).locator('[data-notice="resuming"]');
    await resuming.waitFor();
    assert.match(await resuming.innerText(), /Connection lost:[\s\S]*The text so far is kept/);
    const shown = normalized(await replyText(page));
    assert.ok(shown.length > 300);

    restarted = await startBackend({ tokenDelayMs: TOKEN_DELAY_MS, port });
    const attempt = lastReply(page).locator("[data-previous-attempt]");
    await attempt.waitFor({ timeout: 30_000 });
    assert.match(await attempt.locator(".notice").innerText(), /Previous attempt[\s\S]*Server error:[\s\S]*no longer had this reply/i);
    assert.equal(normalized(await attempt.locator(".attempt-text").innerText()), shown, "every character shown before the crash is still on screen");

    assert.equal(await waitForReplyEnd(page), "done");
    const endedAt = Date.now();
    assert.equal(await attempt.count(), 1, "the earlier text stays until dismissed");
    assert.ok(requests.some((r) => r.method === "GET"), "it tried to resume before asking again");

    // tokens/s is the attempt that produced the text: it started after the kill, so its 600 tokens took at
    // most the time from the kill to the end. A rate over a span from the first attempt's first text would
    // be lower than that (it adds the time the first attempt streamed before the kill).
    const metrics = lastReply(page).locator(".metrics");
    const tps = Number(await metrics.getAttribute("data-tps"));
    const floor = 600 / ((endedAt - killedAt) / 1000);
    assert.ok(tps >= floor, `${tps} tok/s shown; the attempt itself ran at ≥ ${floor.toFixed(1)} tok/s`);

    await page.locator('[data-testid="stats"] summary').click();
    assert.equal(await stat(page, "retries"), "1", "asked again once, because the stream was gone");
    assert.ok(Number(await stat(page, "reconnects")) >= 1, "the drop counted as a network reconnect");
    assert.deepEqual(await seriousA11yViolations(page), []);
  } finally {
    await restarted?.stop();
    await own.stop();
  }
});
