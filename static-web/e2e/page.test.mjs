// Browser checks of the page: storage, undo, replies scoped to their
// conversation, focus, the modal phone drawer, touch targets, accessibility (axe-core) in each state,
// honest metrics, Edit for refused requests, the cursor after a list, href-less links.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startProxy } from "./proxy.mjs";
import {
  DESKTOP,
  PHONE,
  animationsDone,
  ensureDir,
  lastReply,
  launchBrowser,
  openChat,
  screenshotsDir,
  sendMessage,
  settled,
  seriousA11yViolations,
  startBackend,
  waitForReplyEnd,
} from "./harness.mjs";

let backend;
let proxy;
let browser;
const contexts = [];

before(async () => {
  [backend, browser] = await Promise.all([startBackend({ tokenDelayMs: 15 }), launchBrowser()]);
  proxy = await startProxy(backend.baseUrl);
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await proxy?.stop();
  await backend?.stop();
});

async function freshChat(options = {}) {
  const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP, colorScheme: options.colorScheme ?? "light" });
  contexts.push(context);
  // Titles stay the local ones (from the first message): generated titles are features.test.mjs's subject.
  await context.route("**/api/chat/title", (route) => route.fulfill({ status: 404 }));
  const opened = await openChat(context, options.via?.url ?? backend.baseUrl, options);
  return { ...opened, context };
}

const activeId = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.className || document.activeElement?.tagName);
const replyText = (page) => lastReply(page).locator(".reply").innerText();
const conversationTitles = (page) => page.locator(".conversation").evaluateAll((els) => els.map((e) => e.getAttribute("title")));

async function deleteFromMenu(page, title) {
  await page.getByRole("button", { name: `Options for ${title}`, exact: true }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
}

async function assertAccessible(page, state) {
  const violations = await seriousA11yViolations(page);
  assert.deepEqual(violations, [], `${state}: serious/critical axe violations\n${JSON.stringify(violations, null, 2)}`);
}

/** A refused request, as the backend answers it (problem+json), for the one POST that follows. */
async function refuseNextPost(page, status, problem, headers = {}) {
  await page.route("**/api/chat/stream", (route) =>
    route.request().method() === "POST"
      ? route.fulfill({ status, contentType: "application/problem+json", headers, body: JSON.stringify(problem) })
      : route.continue(),
    { times: 1 },
  );
}

describe("chat page: storage", () => {
  test("conversations live in IndexedDB; old localStorage data moves over once", async () => {
    const { page } = await freshChat();
    const legacy = {
      conversations: [
        {
          id: "legacy-1",
          title: "From the old version",
          createdAt: 1,
          updatedAt: 1,
          messages: [
            { id: "u", role: "user", content: "From the old version", createdAt: 1 },
            { id: "a", role: "assistant", content: "An **old** reply.", createdAt: 1, status: "done", finishReason: "stop" },
          ],
        },
      ],
      activeId: "legacy-1",
    };
    await page.evaluate((data) => localStorage.setItem("chatfunctions.conversations.v1", JSON.stringify(data)), legacy);
    await page.reload();
    await page.locator("article.message.assistant").waitFor();
    assert.equal(await replyText(page), "An old reply.");
    assert.equal(await page.evaluate(() => localStorage.getItem("chatfunctions.conversations.v1")), null, "the old key is gone once moved");
    await page.reload();
    await page.locator("article.message.assistant").waitFor();
    assert.deepEqual(await conversationTitles(page), ["From the old version"], "read from IndexedDB now");
  });

  test("storage filled to quota: nothing is dropped, the user is told and chooses what to delete", async () => {
    const { page, context, problems } = await freshChat({ via: proxy });
    // A 150 KB quota for the origin (Chromium applies an override to storage not yet written, so set it first):
    // two small chats fit, a 2,000-line code reply does not.
    const cdp = await context.newCDPSession(page);
    const origin = proxy.url;
    await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 150_000 });
    await sendMessage(page, "First small chat [demo:tokens=5]");
    assert.equal(await waitForReplyEnd(page), "done");
    await page.getByRole("button", { name: "+ New chat" }).click();
    await sendMessage(page, "Second small chat [demo:tokens=5]");
    assert.equal(await waitForReplyEnd(page), "done");
    await page.getByRole("button", { name: "+ New chat" }).click();
    await sendMessage(page, "A long one [stub:code=2000]");
    const notice = page.getByTestId("storage-full");
    await notice.waitFor({ timeout: 60_000 });
    assert.equal(await waitForReplyEnd(page), "done");
    assert.match(await notice.innerText(), /Browser storage is full[\s\S]*Nothing has been deleted/);
    const all = ["A long one [stub:code=2000]", "Second small chat", "First small chat"];
    assert.deepEqual(await conversationTitles(page), all, "no conversation was removed to make room");
    await assertAccessible(page, "storage full");
    await page.screenshot({ path: join(ensureDir(screenshotsDir), "storage-full.png") });

    // The user deletes one they choose (Undo on offer); still not enough room, so the notice stays.
    // The deletion is a chance to save again (a write to IndexedDB); the notice stays once that write has failed.
    await page.evaluate(() => {
      window.__writesEnded = 0;
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (...args) {
        const tx = transaction.apply(this, args);
        if (args[1] === "readwrite") {
          const ended = () => (window.__writesEnded += 1);
          tx.addEventListener("complete", ended);
          tx.addEventListener("abort", ended);
        }
        return tx;
      };
    });
    await page.getByRole("button", { name: "Delete to free space: First small chat" }).click();
    await page.getByTestId("undo-toast").waitFor();
    assert.deepEqual(await conversationTitles(page), all.slice(0, 2));
    await page.waitForFunction(() => window.__writesEnded > 0);
    await settled(page);
    assert.equal(await notice.count(), 1);
    // Room again (the user cleared space elsewhere): Try saving again saves everything.
    await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 50_000_000 });
    await page.getByRole("button", { name: "Try saving again" }).click();
    await notice.waitFor({ state: "detached" });
    const longReply = await replyText(page);

    await page.reload();
    await page.getByRole("button", { name: "A long one [stub:code=2000]", exact: true }).click();
    assert.equal(await lastReply(page).getAttribute("data-status"), "done", "the finished reply was saved finished, not 'Interrupted'");
    assert.equal(await replyText(page), longReply);
    assert.deepEqual(await conversationTitles(page), all.slice(0, 2));
    await cdp.send("Storage.overrideQuotaForOrigin", { origin });
    assert.deepEqual(problems, []);
  });

  test("Delete offers Undo, focus moves to the next conversation, and Undo puts it back", async () => {
    const { page } = await freshChat();
    for (const name of ["Alpha", "Beta", "Gamma"]) {
      await page.getByRole("button", { name: "+ New chat" }).click();
      await sendMessage(page, `${name} [demo:tokens=3]`);
      assert.equal(await waitForReplyEnd(page), "done");
    }
    assert.deepEqual(await conversationTitles(page), ["Gamma", "Beta", "Alpha"]);
    await deleteFromMenu(page, "Beta");
    assert.deepEqual(await conversationTitles(page), ["Gamma", "Alpha"]);
    await page.waitForFunction(() => document.activeElement?.getAttribute("title") === "Alpha");
    const toast = page.getByTestId("undo-toast");
    assert.match(await toast.innerText(), /Deleted “Beta”/);
    await toast.getByRole("button", { name: "Undo" }).click();
    assert.deepEqual(await conversationTitles(page), ["Gamma", "Beta", "Alpha"]);
    await page.waitForFunction(() => document.activeElement?.getAttribute("title") === "Beta");
    await page.reload();
    await page.locator(".conversation").first().waitFor();
    assert.equal((await conversationTitles(page)).length, 3, "the undone delete is not persisted");

    // The last one left: focus goes to New chat.
    for (const title of ["Gamma", "Beta", "Alpha"]) await deleteFromMenu(page, title);
    await page.waitForFunction(() => document.activeElement?.classList.contains("new-chat"));
  });
});

describe("chat page: replies belong to their conversation", () => {
  test("two chats stream at once; each has its own Stop; the other chat stays usable", async () => {
    const { page, problems } = await freshChat();
    await sendMessage(page, "First [demo:tokens=1000]");
    await page.waitForFunction(() => (document.querySelector("article.message.assistant .reply")?.textContent ?? "").length > 40);
    await page.getByRole("button", { name: "+ New chat" }).click();
    assert.equal(await page.getByRole("button", { name: "Stop generating" }).count(), 0, "no Stop in a chat that is not replying");
    assert.doesNotMatch(await page.locator("#composer-hint").innerText(), /Esc or Stop/);
    await sendMessage(page, "Second [demo:tokens=1000]");
    await page.waitForFunction(() => document.querySelectorAll(".conversation .visually-hidden").length === 2, null, { timeout: 10_000 });

    // Stop the second; the first keeps streaming.
    await page.getByRole("button", { name: "Stop generating" }).click();
    assert.equal(await waitForReplyEnd(page), "stopped");
    // Its accessible name says "(replying)" while it streams.
    await page.getByRole("button", { name: "First (replying)", exact: true }).click();
    assert.equal(await lastReply(page).getAttribute("data-status"), "streaming", `the other reply was not stopped: ${(await replyText(page)).slice(-200)}`);
    await assertAccessible(page, "streaming");
    assert.equal(await waitForReplyEnd(page, 60_000), "done");
    assert.match(await replyText(page), /token1000\b/);
    assert.deepEqual(problems, []);
  });

  test("focus after Regenerate and Retry goes to the message box (where Esc stops)", async () => {
    const { page } = await freshChat();
    await sendMessage(page, "Short [demo:tokens=20]");
    assert.equal(await waitForReplyEnd(page), "done");
    await page.getByRole("button", { name: "Regenerate" }).click();
    assert.equal(await activeId(page), "composer-input");
    await page.keyboard.press("Escape");
    assert.equal(await waitForReplyEnd(page), "stopped");
    await assertAccessible(page, "stopped");
    await page.getByRole("button", { name: "Retry" }).click();
    assert.equal(await activeId(page), "composer-input");
    assert.equal(await waitForReplyEnd(page), "done");
  });
});

describe("chat page: refusals, budgets, failures", () => {
  test("a refused request (400) offers Edit, which puts the text back in the box", async () => {
    const { page } = await freshChat();
    await refuseNextPost(page, 400, { title: "Invalid request", status: 400, detail: "The message is too long.", errors: { message: ["too long"] } });
    await sendMessage(page, "Please refuse this one");
    assert.equal(await waitForReplyEnd(page), "failed");
    assert.match(await lastReply(page).locator(".notice").innerText(), /Request refused:[\s\S]*The message is too long/);
    assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 0, "no Retry that cannot succeed");
    await lastReply(page).getByRole("button", { name: "Edit", exact: true }).click();
    assert.equal(await activeId(page), "composer-input");
    assert.equal(await page.locator("#composer-input").inputValue(), "Please refuse this one");
    assert.equal(await page.locator("article.message").count(), 0, "the refused turn left the conversation");
  });

  test("a spent daily budget says when it resets, without a Retry", async () => {
    const { page } = await freshChat();
    const resetAt = new Date(Date.now() + 3 * 3600_000).toISOString();
    await refuseNextPost(
      page,
      429,
      { title: "Daily token budget spent", status: 429, errors: { budget: ["spent"] }, resetAt },
      { "Retry-After": "10800" },
    );
    await sendMessage(page, "Budget please");
    assert.equal(await waitForReplyEnd(page), "failed");
    // The page's own rule: the time alone today, with the day when the reset falls on another (past midnight).
    const local = await page.evaluate((at) => {
      const date = new Date(at);
      const time = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      return date.toDateString() === new Date().toDateString()
        ? time
        : `${date.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" })} ${time}`;
    }, resetAt);
    assert.equal(await lastReply(page).locator('[data-notice="budget"]').innerText(), `Daily token budget spent, resets at ${local}.`);
    assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 0);
    assert.equal(await page.locator('[data-notice="reconnecting"]').count(), 0, "no automatic retry either");
  });

  test("reconnecting and failed states pass axe (dimmed text keeps its contrast)", async () => {
    const { page } = await freshChat();
    await assertAccessible(page, "empty");
    await sendMessage(page, "Please fail [demo:error]");
    await lastReply(page).locator('[data-notice="reconnecting"]').waitFor({ timeout: 20_000 });
    await assertAccessible(page, "reconnecting");
    await page.screenshot({ path: join(ensureDir(screenshotsDir), "reconnecting.png") });
    assert.equal(await waitForReplyEnd(page, 60_000), "failed");
    await assertAccessible(page, "failed");
  });
});

describe("chat page: metrics and rendering", () => {
  test("first token is the browser's time; the server's is in the detail; no rate for a tiny reply", async () => {
    const { page } = await freshChat();
    await sendMessage(page, "Tiny [demo:tokens=3]");
    assert.equal(await waitForReplyEnd(page), "done");
    const metrics = lastReply(page).locator(".metrics");
    assert.doesNotMatch(await metrics.innerText(), /tok\/s/);
    const ttft = Number(await metrics.getAttribute("data-ttft-ms"));
    const serverTtft = Number(await metrics.getAttribute("data-server-ttft-ms"));
    assert.ok(ttft >= serverTtft, `browser ${ttft} ms ≥ server ${serverTtft} ms`);
    assert.match(await metrics.getAttribute("title"), /on the server/);

    await sendMessage(page, "Longer [demo:tokens=120]");
    assert.equal(await waitForReplyEnd(page), "done");
    const rate = Number(await lastReply(page).locator(".metrics").getAttribute("data-tps"));
    // 15 ms per token from the demo model: a real rate, well under 1,000 tok/s.
    assert.ok(rate > 5 && rate < 1000, `rate ${rate}`);
  });

  test("the cursor stays on the last list item's line; href-less links do not look like links", async () => {
    const { page } = await freshChat({ via: proxy });
    await sendMessage(page, "List please [stub:list-then-wait]");
    await page.waitForFunction(() => document.querySelector(".message.streaming .cursor-here")?.textContent?.includes("three"));
    assert.equal(await page.locator(".message.streaming .cursor-here").evaluate((el) => el.tagName), "LI");
    await page.getByRole("button", { name: "Stop generating" }).click();

    // A model link with a javascript: address keeps its text, loses its href, and is styled as text.
    await page.evaluate(() => {
      const probe = document.createElement("div");
      probe.className = "markdown";
      probe.innerHTML = '<a id="probe">text</a>';
      document.querySelector(".message-column").append(probe);
    });
    const style = await page.locator("#probe").evaluate((el) => {
      const s = getComputedStyle(el);
      const body = getComputedStyle(el.parentElement);
      return { sameColor: s.color === body.color, underline: s.textDecorationLine.includes("underline"), cursor: s.cursor };
    });
    assert.deepEqual(style, { sameColor: true, underline: false, cursor: "text" });
  });
});

describe("chat page: sign-in configured", () => {
  test("with auth in config.json the page loads MSAL, offers Sign in, and sends nothing until signed in", async () => {
    const auth = { clientId: "00000000-0000-0000-0000-000000000001", authority: "https://login.microsoftonline.com/contoso.example", scopes: ["api://chat-api/chat"] };
    const { page, problems } = await freshChat({ config: { apiBaseUrl: "", auth } });
    const signIn = page.getByRole("button", { name: "Sign in" });
    await signIn.waitFor();
    assert.equal(await page.locator("#composer-hint").innerText(), "Sign in to send messages.");
    await page.fill("#composer-input", "Hello?");
    assert.ok(await page.getByRole("button", { name: "Send message" }).isDisabled());
    await page.press("#composer-input", "Enter");
    await settled(page); // a send the key started has rendered its message by now
    assert.equal(await page.locator("article.message").count(), 0, "nothing was sent");
    await assertAccessible(page, "signed out");
    assert.deepEqual(problems, []);
  });

  test("without auth the MSAL chunk is never downloaded", async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    contexts.push(context);
    const scripts = [];
    context.on("request", (r) => r.resourceType() === "script" && scripts.push(new URL(r.url()).pathname));
    const { page } = await openChat(context, backend.baseUrl);
    await page.waitForLoadState("networkidle"); // every script the page asked for has been requested and loaded
    assert.equal(scripts.filter((s) => /msalSession|dist-/.test(s)).length, 0, `scripts: ${scripts.join(", ")}`);
    assert.equal(await page.getByRole("button", { name: "Sign in" }).count(), 0);
  });
});

describe("chat page: phone", () => {
  test("the drawer is modal (Tab stays inside, the page behind is inert, Esc closes); touch targets are 44 px", async () => {
    for (const colorScheme of ["light", "dark"]) {
      const { page } = await freshChat({ viewport: PHONE, colorScheme });
      await sendMessage(page, "Phone check [demo:tokens=30]");
      assert.equal(await waitForReplyEnd(page), "done");
      await assertAccessible(page, `phone ${colorScheme}`);

      const small = await page.evaluate(() =>
        [...document.querySelectorAll(".message-footer button, .copy-code, .send, .menu")]
          .map((el) => ({ name: el.textContent.trim() || el.className, h: el.getBoundingClientRect().height, w: el.getBoundingClientRect().width }))
          .filter((b) => b.h < 44 || b.w < 44),
      );
      assert.deepEqual(small, [], "touch targets under 44 px");

      await page.getByRole("button", { name: "Conversations" }).click();
      await page.locator(".sidebar.open").waitFor();
      assert.equal(await page.locator("main.chat").getAttribute("inert"), "", "the page behind the drawer is inert");
      for (let i = 0; i < 8; i++) {
        await page.keyboard.press("Tab");
        assert.ok(await page.evaluate(() => document.getElementById("conversation-sidebar").contains(document.activeElement)), `Tab ${i + 1} left the drawer`);
      }
      await page.keyboard.press("Shift+Tab");
      assert.ok(await page.evaluate(() => document.getElementById("conversation-sidebar").contains(document.activeElement)));
      const small2 = await page.evaluate(() =>
        [...document.querySelectorAll(".sidebar button")].map((el) => el.getBoundingClientRect().height).filter((h) => h < 44),
      );
      assert.deepEqual(small2, [], "drawer buttons under 44 px");
      await animationsDone(page.locator(".sidebar.open"));
      await assertAccessible(page, `phone drawer open (${colorScheme})`);
      await page.screenshot({ path: join(ensureDir(screenshotsDir), `phone-drawer-modal-${colorScheme}.png`) });
      await page.keyboard.press("Escape");
      assert.equal(await activeId(page), "menu");
      assert.equal(await page.locator("main.chat").getAttribute("inert"), null);
    }
  });

  test("desktop dark passes axe", async () => {
    const { page } = await freshChat({ colorScheme: "dark" });
    await sendMessage(page, "Dark check");
    assert.equal(await waitForReplyEnd(page), "done");
    await assertAccessible(page, "dark");
  });
});
