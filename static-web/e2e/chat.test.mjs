// Browser tests of the chat page against the real backend (demo model), in headless Chromium.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  DESKTOP,
  PHONE,
  animationsDone,
  cspViolations,
  ensureDir,
  lastReply,
  launchBrowser,
  openChat,
  screenshotsDir,
  sendMessage,
  settled,
  startBackend,
  stat,
  waitForReplyEnd,
} from "./harness.mjs";

let backend;
let browser;
const contexts = [];

before(async () => {
  // 15 ms per token: slow enough to watch a reply grow and to stop it midway, fast enough for CI.
  [backend, browser] = await Promise.all([startBackend({ tokenDelayMs: 15 }), launchBrowser()]);
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await backend?.stop();
});

async function freshChat(options = {}) {
  const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP, colorScheme: options.colorScheme ?? "light" });
  contexts.push(context);
  // Titles stay the local ones (from the first message): generated titles are features.test.mjs's subject.
  await context.route("**/api/chat/title", (route) => route.fulfill({ status: 404 }));
  return openChat(context, backend.baseUrl, options);
}

const replyText = (page) => lastReply(page).locator(".reply").innerText();

describe("chat page against the real backend", () => {
  test("a reply streams in visibly, then renders markdown with a code block and metrics", async () => {
    const { page, problems } = await freshChat();
    await sendMessage(page, "Explain streaming please");

    // Follow the reply while it streams, one change at a time: its length must grow in several steps before it is done
    // (a reply shown all at once would be one step).
    const samples = [];
    let sawCursor = false;
    let status;
    while ((status = await lastReply(page).getAttribute("data-status").catch(() => null)) !== "done") {
      assert.ok(status === null || status === "streaming", `the reply ended ${status}`);
      const reply = lastReply(page);
      let length = -1;
      if ((await reply.count()) && (await reply.getAttribute("data-status")) === "streaming") {
        length = (await reply.locator(".reply").innerText()).length;
        samples.push(length);
        sawCursor ||= (await page.locator(".message.streaming").count()) > 0;
      }
      await page.waitForFunction((previous) => {
        const replies = document.querySelectorAll("article.message.assistant");
        const last = replies[replies.length - 1];
        if (!last || last.getAttribute("data-status") !== "streaming") return true;
        return (last.querySelector(".reply")?.innerText ?? "").length !== previous;
      }, length);
    }
    const growing = samples.filter((n, i) => i > 0 && n > samples[i - 1]).length;
    assert.ok(growing >= 3, `text grew in only ${growing} of ${samples.length} samples: ${samples.join(",")}`);
    assert.ok(sawCursor, "the streaming message was marked (blinking cursor)");

    const reply = lastReply(page);
    assert.match(await replyText(page), /ChatFunctions demo model/);
    assert.equal(await reply.locator("ol li").count(), 3, "the numbered list rendered");
    assert.equal(await reply.locator(".code-block pre code").count(), 1, "the code block rendered");
    assert.equal(await reply.locator(".code-block .code-lang").innerText(), "csharp");
    assert.ok(await reply.locator(".copy-code").isEnabled());
    assert.match(await reply.locator(".metrics").innerText(), /first token .* tok\/s/);
    assert.equal(await page.locator(".message.user .bubble").innerText(), "Explain streaming please");
    assert.equal(await stat(page, "replies"), "1");

    assert.deepEqual(await cspViolations(page), [], "no CSP violations under the deployed policy");
    assert.deepEqual(problems, []);
  });

  test("Enter sends, Shift+Enter inserts a newline", async () => {
    const { page } = await freshChat();
    const input = page.locator("#composer-input");
    await input.focus();
    await page.keyboard.type("line one");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("line two");
    assert.equal(await input.inputValue(), "line one\nline two");
    assert.equal(await page.locator(".message.user").count(), 0, "Shift+Enter did not send");

    await page.keyboard.press("Enter");
    await page.locator(".message.user").waitFor();
    assert.equal(await page.locator(".message.user .bubble").innerText(), "line one\nline two");
    assert.equal(await input.inputValue(), "", "the box is cleared after sending");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "composer-input", "focus stays in the box");
    await waitForReplyEnd(page);
  });

  test("Stop aborts the request and keeps the partial reply, marked as partial", async () => {
    const { page } = await freshChat();
    const aborted = [];
    page.on("requestfailed", (request) => {
      if (request.url().endsWith("/api/chat/stream")) aborted.push(request.failure()?.errorText);
    });
    const stopped = page.waitForResponse((response) => response.request().method() === "DELETE");
    await sendMessage(page, "Count for me [demo:tokens=1000]");
    await page.waitForFunction(() => {
      const replies = document.querySelectorAll("article.message.assistant .reply");
      return (replies[replies.length - 1]?.textContent ?? "").length > 120;
    });
    await page.getByRole("button", { name: "Stop generating" }).click();
    assert.equal(await waitForReplyEnd(page), "stopped");

    const partial = await replyText(page);
    assert.ok(partial.length > 120, "the partial text is kept");
    assert.doesNotMatch(partial, /token1000\b/, "the reply was cut before its end");
    // The DELETE is answered 204 only once the model call has ended: nothing can arrive after that.
    assert.equal((await stopped).status(), 204);
    assert.equal(await replyText(page), partial, "nothing arrives after Stop");
    assert.match(await lastReply(page).locator(".notice").innerText(), /Partial reply[\s\S]*Stopped/i);
    assert.ok(await lastReply(page).evaluate((el) => el.classList.contains("partial")));
    assert.deepEqual(aborted, ["net::ERR_ABORTED"], "the browser aborted the stream request");
    assert.ok(await page.getByRole("button", { name: "Retry" }).isVisible());
  });

  test("a server error mid-stream is labelled a server error; each attempt's text stays as a previous attempt until dismissed", async () => {
    const { page, problems } = await freshChat();
    await sendMessage(page, "Please fail [demo:error]");

    // While the turn is asked again, the first attempt's text stays on screen, labelled, with the budget.
    const reconnecting = lastReply(page).locator('[data-notice="reconnecting"]');
    await reconnecting.waitFor({ timeout: 20_000 });
    assert.match(await reconnecting.innerText(), /^Server error:[\s\S]*failed on purpose[\s\S]*automatic retry 1 of 3/);
    assert.doesNotMatch(await reconnecting.innerText(), /Connection/);
    const first = lastReply(page).locator("[data-previous-attempt]").first();
    assert.match(await first.innerText(), /Previous attempt[\s\S]*Server error:[\s\S]*Hello!/i, "the partial text is still on screen");

    assert.equal(await waitForReplyEnd(page, 60_000), "failed");
    // Nothing erased: three earlier attempts plus the last one's own text.
    assert.equal(await lastReply(page).locator("[data-previous-attempt]").count(), 3);
    const notice = lastReply(page).locator(".notice").last();
    assert.match(await notice.innerText(), /Partial reply[\s\S]*Server error:[\s\S]*failed on purpose[\s\S]*Gave up after 3 automatic retries/i);
    assert.match(await replyText(page), /Hello!/, "partial text kept after giving up");
    assert.ok(await lastReply(page).evaluate((el) => el.classList.contains("partial")));
    // Server errors are retries, not network reconnects.
    assert.equal(await stat(page, "retries"), "3");
    assert.equal(await stat(page, "reconnects"), "0");
    assert.equal(await stat(page, "errors"), "1 (100%)");
    assert.ok(await page.getByRole("button", { name: "Retry" }).isVisible());

    // The user dismisses what they have read; the rest stays.
    await page.getByRole("button", { name: "Dismiss previous attempt 1" }).click();
    assert.equal(await lastReply(page).locator("[data-previous-attempt]").count(), 2);
    assert.deepEqual(problems, []);
  });

  test("a rate-limited reply counts down to the next attempt, and Stop during the wait keeps the text", async () => {
    const { page } = await freshChat();
    await sendMessage(page, "Slow down [demo:ratelimit]");
    const notice = lastReply(page).locator('[data-notice="reconnecting"]');
    await notice.waitFor({ timeout: 20_000 });
    assert.match(await notice.innerText(), /Rate limited:[\s\S]*Asking again in [1-5] s \(automatic retry 1 of 3\)/);
    const partial = await lastReply(page).locator("[data-previous-attempt] .attempt-text").innerText();
    assert.ok(partial.length > 0);
    await page.getByRole("button", { name: "Stop generating" }).click();
    assert.equal(await waitForReplyEnd(page), "stopped");
    assert.equal(await lastReply(page).locator("[data-previous-attempt] .attempt-text").innerText(), partial);
  });

  test("content filter and length limit endings are shown", async () => {
    const { page } = await freshChat();
    await sendMessage(page, "Filter me [demo:filter]");
    assert.equal(await waitForReplyEnd(page), "done");
    assert.match(await lastReply(page).locator('[data-notice="content_filter"]').innerText(), /Content filtered/);

    await sendMessage(page, "Cut me [demo:length]");
    assert.equal(await waitForReplyEnd(page), "done");
    assert.match(await lastReply(page).locator('[data-notice="length"]').innerText(), /length limit/);
    assert.ok(await lastReply(page).getByRole("button", { name: "Regenerate" }).isVisible());
  });

  test("conversations survive a reload; New chat, switching and Delete work", async () => {
    const { page } = await freshChat();
    await sendMessage(page, "Remember this conversation [demo:tokens=20]");
    assert.equal(await waitForReplyEnd(page), "done");
    const before = await replyText(page);

    await page.reload();
    await page.locator("article.message.assistant").waitFor();
    assert.equal(await replyText(page), before);
    assert.equal(await page.locator(".message.user .bubble").innerText(), "Remember this conversation [demo:tokens=20]");
    const item = page.getByRole("button", { name: "Remember this conversation", exact: true });
    assert.equal(await item.getAttribute("aria-current"), "page");

    await page.getByRole("button", { name: "+ New chat" }).click();
    assert.equal(await page.locator("article.message").count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "composer-input");
    await item.click();
    assert.equal(await replyText(page), before);

    await page.getByRole("button", { name: "Options for Remember this conversation" }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    assert.equal(await page.locator(".conversation").count(), 0);
    await page.reload();
    await page.locator("#composer-input").waitFor();
    assert.equal(await page.locator(".conversation").count(), 0, "deletion is persisted");
  });

  test("Regenerate streams a new reply in place of the last one; the old one stays as a version", async () => {
    const { page } = await freshChat();
    await sendMessage(page, "Short one [demo:tokens=30]");
    assert.equal(await waitForReplyEnd(page), "done");
    await page.getByRole("button", { name: "Regenerate" }).click();
    await page.waitForFunction(() => document.querySelector("article.message.assistant")?.getAttribute("data-status") === "streaming");
    assert.equal(await waitForReplyEnd(page), "done");
    assert.equal(await page.locator("article.message.assistant").count(), 1);
    assert.match(await replyText(page), /token30/);
    assert.equal(await lastReply(page).getByTestId("version-count").innerText(), "2 / 2");
    assert.equal(await stat(page, "replies"), "2");
  });

  test("model output cannot run script: XSS payloads in the reply stay inert text", async () => {
    const { page, problems } = await freshChat();
    await page.evaluate(() => {
      window.__xss = 0;
    });
    const payload = [
      '<img src=x onerror="window.__xss=1;alert(1)">',
      "<script>window.__xss=2</script>",
      "[click me](javascript:window.__xss=3)",
      '<a href="javascript:window.__xss=4">raw link</a>',
      '<svg onload="window.__xss=5"></svg>',
      "![pixel](https://attacker.invalid/leak.png)",
    ].join(" ");
    await sendMessage(page, payload);
    assert.equal(await waitForReplyEnd(page), "done");

    const reply = lastReply(page);
    // The demo reply quotes the message: the payload is in the reply, shown as text.
    assert.match(await replyText(page), /<img src=x onerror=/);
    assert.equal(await page.locator(".messages img, .messages script, .messages svg, .messages iframe").count(), 0);
    const hrefs = await reply.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    for (const href of hrefs) assert.ok(href === null || /^(https?:|mailto:)/.test(href), `unsafe href ${href}`);
    const handlers = await page.evaluate(() =>
      [...document.querySelectorAll(".messages *")].flatMap((el) => [...el.attributes].map((a) => a.name)).filter((n) => n.startsWith("on")),
    );
    assert.deepEqual(handlers, []);
    // Click every link the reply has; none may run script.
    for (const link of await reply.locator("a").all()) await link.click({ modifiers: ["Control"] }).catch(() => {});
    await settled(page); // a javascript: navigation or handler the clicks queued has run by now
    assert.equal(await page.evaluate(() => window.__xss), 0);
    assert.deepEqual(problems, []);
  });

  test("auto-scroll pauses when the user scrolls up; Jump to latest resumes it", async () => {
    const { page } = await freshChat({ viewport: { width: 800, height: 500 } });
    await sendMessage(page, "Long one [demo:tokens=800]");
    const messages = page.locator('[data-testid="messages"]');
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="messages"]');
      return el && el.scrollHeight > el.clientHeight * 2;
    });
    const atBottom = () => messages.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 50);
    assert.ok(await atBottom(), "follows the stream while pinned");

    await messages.hover();
    await page.mouse.wheel(0, -600);
    const jump = page.getByRole("button", { name: /Jump to latest/ });
    await jump.waitFor();
    const top = await messages.evaluate((el) => el.scrollTop);
    // More text arrives (each arrival is where a pinned view would scroll), then frames are drawn: the view stays.
    const shown = (await replyText(page)).length;
    await page.waitForFunction((before) => {
      const replies = document.querySelectorAll("article.message.assistant .reply");
      return (replies[replies.length - 1]?.textContent ?? "").length > before + 200;
    }, shown);
    await settled(page);
    assert.equal(await messages.evaluate((el) => el.scrollTop), top, "stays where the user scrolled");
    assert.ok(!(await atBottom()));

    await jump.click();
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="messages"]');
      return el.scrollHeight - el.scrollTop - el.clientHeight < 50;
    });
    await jump.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Stop generating" }).click();
  });

  test("screenshots at desktop and phone width, light and dark", async () => {
    ensureDir(screenshotsDir);
    const shots = [
      ["desktop-light", DESKTOP, "light"],
      ["desktop-dark", DESKTOP, "dark"],
      ["phone-light", PHONE, "light"],
      ["phone-dark", PHONE, "dark"],
    ];
    // The four shots side by side, each in its own context: their replies stream at the same time.
    await Promise.all(shots.map(async ([name, viewport, colorScheme]) => {
      const { page, problems } = await freshChat({ viewport, colorScheme });
      await sendMessage(page, "Show me what you can do");
      assert.equal(await waitForReplyEnd(page), "done");
      await sendMessage(page, "And now fail midway [demo:filter]");
      assert.equal(await waitForReplyEnd(page), "done");
      await page.screenshot({ path: join(screenshotsDir, `${name}.png`) });
      // Nothing may stick out sideways at phone width.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: page is ${overflow}px wider than the viewport`);
      if (viewport === PHONE) {
        await page.getByRole("button", { name: "Conversations" }).click();
        await page.locator(".sidebar.open").waitFor();
        assert.equal(await page.evaluate(() => document.activeElement?.className), "new-chat", "focus moves into the drawer");
        await animationsDone(page.locator(".sidebar.open"));
        await page.screenshot({ path: join(screenshotsDir, `${name}-sidebar.png`) });
        await page.keyboard.press("Escape");
        assert.equal(await page.evaluate(() => document.activeElement?.className), "menu", "Escape returns focus to ☰");
        assert.equal(await page.locator(".sidebar.open").count(), 0);
      }
      assert.deepEqual(problems, []);
    }));
  });
});
