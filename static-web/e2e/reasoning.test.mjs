// Browser test of the model's reasoning summary (CHAT_API=responses, `reasoning` frames): shown under the reply in a
// collapsed "Thinking" disclosure, sanitized like the reply, kept with the message across a reload, and accessible.
// The stream is the server's own frames for such a reply, served to the page by the browser (the demo model has no
// reasoning summary), so the test is about the page alone.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DESKTOP, lastReply, launchBrowser, openChat, sendMessage, seriousA11yViolations, startBackend, waitForReplyEnd } from "./harness.mjs";

let backend;
let browser;
let context;

before(async () => {
  [backend, browser] = await Promise.all([startBackend({ tokenDelayMs: 5 }), launchBrowser()]);
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await backend?.stop();
});

const streamId = "AAAAAAAAAAAAAAAAAAAAAA";
const frames = [
  { meta: { requestId: "r1", streamId, provider: "azure-openai", model: "gpt-5.4-mini" } },
  { thinking: { timeToFirstByteMs: 40 } },
  { reasoning: "**Weighing** the question. " },
  { reasoning: '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>[link](javascript:window.__xss=3)' },
  { chunk: "The answer" },
  { chunk: " is 42." },
  { done: true, finishReason: "stop", usage: { inputTokens: 9, outputTokens: 40, totalTokens: 49, reasoningTokens: 38 }, metrics: { timeToFirstByteMs: 40, thinkingMs: 900, timeToFirstTokenMs: 940, tokensPerSecond: 20, durationMs: 1000 } },
];
const body = frames.map((data, i) => `id: ${streamId}:${i + 1}\ndata: ${JSON.stringify(data)}\n\n`).join("");

describe("the model's reasoning summary", () => {
  test("shows collapsed under the reply as Thinking, sanitized, accessible, and stays after a reload", async () => {
    context = await browser.newContext({ viewport: DESKTOP });
    const { page, problems } = await openChat(context, backend.baseUrl);
    await page.evaluate(() => {
      window.__xss = 0;
    });
    await page.route("**/api/chat/stream", (route) =>
      route.request().method() === "POST"
        ? route.fulfill({ status: 200, contentType: "text/event-stream", headers: { "cache-control": "no-cache" }, body })
        : route.continue(),
    );
    await sendMessage(page, "What is the answer?");
    assert.equal(await waitForReplyEnd(page), "done");

    const reply = lastReply(page);
    assert.equal(await reply.locator(".reply").innerText(), "The answer is 42.", "the summary is not part of the reply");
    const disclosure = reply.locator("details.reasoning");
    assert.equal(await disclosure.count(), 1);
    assert.equal(await disclosure.evaluate((d) => d.open), false, "collapsed until the user opens it");
    assert.equal(await disclosure.locator("summary").innerText(), "Thinking");

    await disclosure.locator("summary").click();
    assert.equal(await disclosure.evaluate((d) => d.open), true);
    const summary = disclosure.locator(".markdown, :scope > :not(summary)").first();
    assert.match(await summary.innerText(), /Weighing the question/);
    assert.equal(await disclosure.locator("strong").innerText(), "Weighing", "rendered as Markdown");
    // Sanitized as the reply is: no element that runs script, no handler, no javascript: link.
    assert.equal(await disclosure.locator("img, script, svg, iframe").count(), 0);
    const handlers = await disclosure.evaluate((d) => [...d.querySelectorAll("*")].flatMap((el) => [...el.attributes].map((a) => a.name)).filter((n) => n.startsWith("on")));
    assert.deepEqual(handlers, []);
    const hrefs = await disclosure.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    for (const href of hrefs) assert.ok(href === null || /^(https?:|mailto:)/.test(href), `unsafe href ${href}`);
    assert.equal(await page.evaluate(() => window.__xss), 0);
    assert.deepEqual(await seriousA11yViolations(page), []);

    // Persisted with the message: a reload shows it again, collapsed.
    await page.unroute("**/api/chat/stream");
    await page.reload();
    const reloaded = lastReply(page).locator("details.reasoning");
    await reloaded.waitFor({ state: "attached", timeout: 10_000 });
    assert.equal(await reloaded.evaluate((d) => d.open), false);
    assert.match(await reloaded.evaluate((d) => d.textContent), /Weighing the question/);
    assert.deepEqual(problems, []);
  });
});
