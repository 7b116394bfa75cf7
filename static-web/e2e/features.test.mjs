// Browser checks of the chat-management features, at desktop (1280×800) and phone (390×844) size (titles, whose logic
// no size changes, at desktop size only), with
// axe-core on the new controls: versions (edit and resend, regenerate any reply), the row menu (rename, copy,
// export, delete with Undo while replying, the next chat opens), search, date groups, titles (generated and
// local), the replying dot, first run (starter prompts, the model's name), theme, keyboard shortcuts, code
// highlighting and wrapping, and scrolling to a sent question. One backend, proxy and browser for the file.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { DESKTOP, PHONE, lastReply, openChat, sendMessage, seriousA11yViolations, startStack, waitForReplyEnd } from "./harness.mjs";

let stack;

before(async () => {
  stack = await startStack({ tokenDelayMs: 2 });
});

after(async () => {
  await stack?.stop();
});

const SIZES = [
  ["desktop", DESKTOP],
  ["phone", PHONE],
];

/** A fresh page; `title`: how the title endpoint answers (the backend's own answer when absent). */
async function freshChat(viewport, { title = { status: 404 } } = {}) {
  const context = await stack.browser.newContext({ viewport, colorScheme: "light" });
  const titleRequests = [];
  if (title) {
    await context.route("**/api/chat/title", (route) => {
      titleRequests.push({ body: route.request().postDataJSON(), headers: route.request().headers() });
      return route.fulfill({ status: title.status, contentType: "application/json", body: JSON.stringify(title.body ?? {}) });
    });
  }
  const opened = await openChat(context, stack.proxy.url);
  return { ...opened, context, titleRequests };
}

const isPhone = (page) => page.viewportSize().width < 720;

/** On a phone the list is in the drawer behind ☰. */
async function showList(page) {
  if (isPhone(page) && !(await page.locator("nav.sidebar.open").count())) {
    await page.getByRole("button", { name: "Conversations" }).click();
    await page.locator("nav.sidebar.open").waitFor();
  }
}

async function closeList(page) {
  if (isPhone(page) && (await page.locator("nav.sidebar.open").count())) {
    await page.getByRole("button", { name: "Close" }).click();
    await page.locator("nav.sidebar.open").waitFor({ state: "detached" });
  }
}

async function newChatAndSend(page, text) {
  await showList(page);
  await page.getByRole("button", { name: "+ New chat" }).click();
  await sendMessage(page, text);
  assert.equal(await waitForReplyEnd(page), "done");
}

const titles = (page) => page.locator(".conversation").evaluateAll((els) => els.map((e) => e.getAttribute("title")));
const texts = (page) => page.locator("article.message").evaluateAll((els) => els.map((e) => (e.querySelector(".bubble, .reply")?.textContent ?? "").trim()));

async function assertAccessible(page, state) {
  const violations = await seriousA11yViolations(page);
  assert.deepEqual(violations, [], `${state}: serious/critical axe violations\n${JSON.stringify(violations, null, 2)}`);
}

for (const [size, viewport] of SIZES) {
  // What a phone shows differently (the drawer, the row menu in it, layout, axe on every new control) is tested at
  // both sizes; logic that no size changes, once, at desktop size.
  const sizeIndependent = size === "desktop" ? test : () => {};
  describe(`chat features (${size})`, () => {
    test("edit an earlier question and regenerate an earlier reply: the chat branches, every version stays reachable", async () => {
      const { page, context, problems } = await freshChat(viewport);
      await sendMessage(page, "One [demo:tokens=3]");
      assert.equal(await waitForReplyEnd(page), "done");
      await sendMessage(page, "Two [demo:tokens=4]");
      assert.equal(await waitForReplyEnd(page), "done");
      const firstReply = page.locator("article.message.assistant").first();

      // Regenerate the first reply: the turns after it go with the old version.
      await firstReply.getByRole("button", { name: "Regenerate" }).click();
      assert.equal(await waitForReplyEnd(page), "done");
      assert.equal(await page.locator("article.message").count(), 2);
      assert.equal(await firstReply.getByTestId("version-count").innerText(), "2 / 2");
      await firstReply.getByRole("button", { name: "Previous reply version" }).click();
      assert.deepEqual((await texts(page)).length, 4);
      assert.equal(await page.locator("article.message.user .bubble").nth(1).innerText(), "Two [demo:tokens=4]");
      assert.equal(await firstReply.getByTestId("version-count").innerText(), "1 / 2");
      await assertAccessible(page, "reply versions");

      // Edit the first question and send: a new branch; the old question and its turns are version 1.
      const firstQuestion = page.locator("article.message.user").first();
      await firstQuestion.getByRole("button", { name: "Edit message" }).click();
      const box = page.getByRole("textbox", { name: "Edit message" });
      assert.ok(await box.evaluate((el) => el === document.activeElement), "the edit box takes focus");
      await assertAccessible(page, "editing a question");
      await box.fill("One edited [demo:tokens=2]");
      await box.press("Enter");
      assert.equal(await waitForReplyEnd(page), "done");
      assert.equal(await page.locator("article.message").count(), 2);
      const question = page.locator("article.message.user").first();
      assert.equal(await question.locator(".bubble").innerText(), "One edited [demo:tokens=2]");
      assert.equal(await question.getByTestId("version-count").innerText(), "2 / 2");
      await question.getByRole("button", { name: "Previous message version" }).click();
      assert.equal(await question.locator(".bubble").innerText(), "One [demo:tokens=3]");
      assert.equal(await page.locator("article.message").count(), 4, "the old branch, with both its turns");

      // Escape cancels an edit without sending.
      await question.getByRole("button", { name: "Edit message" }).click();
      await page.getByRole("textbox", { name: "Edit message" }).press("Escape");
      assert.equal(await page.locator("article.message").count(), 4);

      // Versions survive a reload (they are kept with the chat).
      await page.reload();
      await page.locator("article.message.user").first().getByTestId("version-count").waitFor();
      assert.equal(await page.locator("article.message.user").first().getByTestId("version-count").innerText(), "1 / 2");
      assert.deepEqual(problems, []);
      await context.close();
    });

    test("row menu: rename inline, copy as Markdown, export JSON and Markdown; search; date groups; keyboard only", async () => {
      const { page, context, problems } = await freshChat(viewport);
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.proxy.url });
      await sendMessage(page, "Alpha question [demo:tokens=3]");
      assert.equal(await waitForReplyEnd(page), "done");
      await newChatAndSend(page, "Beta question about kubernetes [demo:tokens=3]");
      await showList(page);
      assert.deepEqual(await page.locator(".group-label").allInnerTexts(), ["Today"]);
      assert.deepEqual(await titles(page), ["Beta question about kubernetes", "Alpha question"]);

      // Keyboard: ↓ on the … button opens the menu on its first item; Enter picks Rename.
      const options = page.getByRole("button", { name: "Options for Alpha question", exact: true });
      await options.focus();
      await page.keyboard.press("ArrowDown");
      await page.getByRole("menu").waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Rename");
      await assertAccessible(page, "row menu open");
      const menuBox = await page.getByRole("menu").boundingBox();
      const optionsBox = await options.boundingBox();
      assert.ok(menuBox.y >= optionsBox.y + optionsBox.height - 1, "the menu opens below its button, over the list");
      await page.keyboard.press("Enter");
      const field = page.getByRole("textbox", { name: "Chat title" });
      await field.waitFor();
      await assertAccessible(page, "renaming");
      await field.fill("Escape keeps the old one");
      await field.press("Escape");
      assert.deepEqual(await titles(page), ["Beta question about kubernetes", "Alpha question"]);
      await options.click();
      await page.getByRole("menuitem", { name: "Rename" }).click();
      await page.getByRole("textbox", { name: "Chat title" }).fill("My renamed chat");
      await page.keyboard.press("Enter");
      assert.deepEqual(await titles(page), ["Beta question about kubernetes", "My renamed chat"]);
      await page.waitForFunction(() => document.activeElement?.getAttribute("title") === "My renamed chat");

      // Esc in the menu closes it and returns focus to its button.
      const renamedOptions = page.getByRole("button", { name: "Options for My renamed chat", exact: true });
      await renamedOptions.click();
      await page.keyboard.press("Escape");
      assert.equal(await page.getByRole("menu").count(), 0);
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Options for My renamed chat");

      // Copy as Markdown, then both exports.
      await renamedOptions.click();
      await page.getByRole("menuitem", { name: "Copy as Markdown" }).click();
      await page.waitForFunction(() => document.querySelector('[data-testid="copy-status"]')?.textContent?.startsWith("Copied"));
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.match(copied, /^# My renamed chat\n\n## You\n\nAlpha question \[demo:tokens=3\]\n\n## Assistant\n\n\S/);
      await renamedOptions.click();
      const [json] = await Promise.all([page.waitForEvent("download"), page.getByRole("menuitem", { name: "Export JSON" }).click()]);
      assert.equal(json.suggestedFilename(), "my-renamed-chat.json");
      const exported = JSON.parse(await readFile(await json.path(), "utf8"));
      assert.equal(exported.format, "chatfunctions.conversation");
      assert.equal(exported.conversation.titleSource, "user");
      assert.equal(exported.conversation.messages.length, 2);
      await renamedOptions.click();
      const [md] = await Promise.all([page.waitForEvent("download"), page.getByRole("menuitem", { name: "Export Markdown" }).click()]);
      assert.equal(md.suggestedFilename(), "my-renamed-chat.md");
      assert.equal(await readFile(await md.path(), "utf8"), copied);

      // Search: Ctrl+K reaches it from the message box; titles and message text, matches marked.
      await closeList(page);
      await page.locator("#composer-input").focus();
      await page.keyboard.press("Control+k");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "chat-search");
      await page.keyboard.type("kubernetes");
      assert.deepEqual(await titles(page), ["Beta question about kubernetes"]);
      assert.equal(await page.locator(".conversation mark").first().innerText(), "kubernetes");
      await page.locator("#chat-search").fill("token2");
      assert.equal((await titles(page)).length, 2, "message text is searched too");
      await page.locator("#chat-search").fill("nothing like this");
      assert.match(await page.locator(".sidebar-empty").innerText(), /No chats match/);
      await assertAccessible(page, "search without results");
      await page.locator("#chat-search").press("Escape");
      assert.equal((await titles(page)).length, 2, "Esc clears the search");
      assert.deepEqual(problems, []);
      await context.close();
    });

    sizeIndependent("titles come from the title endpoint once the first reply ends, else from the first message; a rename is never replaced", async () => {
      const { page, context, titleRequests } = await freshChat(viewport, { title: { status: 200, body: { title: "Generated title" } } });
      await sendMessage(page, "[demo:tokens=3] **Which** title will this get?");
      assert.equal(await waitForReplyEnd(page), "done");
      await page.waitForFunction(() => document.querySelector(".chat-header h1")?.textContent === "Generated title");
      assert.equal(titleRequests.length, 1);
      assert.equal(titleRequests[0].body.message, "[demo:tokens=3] **Which** title will this get?");
      assert.match(titleRequests[0].body.reply, /token1/);
      // A second turn asks for no new title.
      await sendMessage(page, "More [demo:tokens=2]");
      assert.equal(await waitForReplyEnd(page), "done");
      assert.equal(titleRequests.length, 1);
      await context.close();

      // The endpoint missing (404): the local title, directives and markdown stripped.
      const local = await freshChat(viewport, { title: { status: 404 } });
      await sendMessage(local.page, "[demo:tokens=3] **Which** title will this get?");
      assert.equal(await waitForReplyEnd(local.page), "done");
      await local.page.waitForFunction(() => document.querySelector(".chat-header h1")?.textContent === "Which title will this get?");
      await local.context.close();

      // Renamed while the first reply streams: the endpoint is not asked, the chosen title stays. The proxy holds the
      // reply back after a few frames until the rename is done, so that it is still streaming on a machine of any speed.
      const renamed = await freshChat(viewport, { title: { status: 200, body: { title: "Generated title" } } });
      stack.proxy.holdNextStream(10);
      await sendMessage(renamed.page, "Rename me first [demo:tokens=300]");
      await renamed.page.locator("article.message.assistant .reply").filter({ hasText: "token2" }).waitFor();
      await showList(renamed.page);
      await renamed.page.getByRole("button", { name: "Options for Rename me first", exact: true }).click();
      await renamed.page.getByRole("menuitem", { name: "Rename" }).click();
      await renamed.page.getByRole("textbox", { name: "Chat title" }).fill("Chosen by me");
      await renamed.page.keyboard.press("Enter");
      await closeList(renamed.page);
      assert.equal(await lastReply(renamed.page).getAttribute("data-status"), "streaming", "renamed while the reply streams");
      stack.proxy.releaseHeld();
      assert.equal(await waitForReplyEnd(renamed.page), "done");
      assert.equal(await renamed.page.locator(".chat-header h1").innerText(), "Chosen by me");
      // A title request would be sent as the first reply ends, before this second turn's request.
      await sendMessage(renamed.page, "Second [demo:tokens=2]");
      assert.equal(await waitForReplyEnd(renamed.page), "done");
      assert.equal(renamed.titleRequests.length, 0);
      await renamed.context.close();
    });

    test("first run names the model and offers starter prompts that send", async () => {
      const { page, context } = await freshChat(viewport);
      await page.getByTestId("model-name").filter({ hasText: "Demo model" }).waitFor();
      await assertAccessible(page, "first run");
      const starter = page.getByRole("list", { name: "Starter prompts" }).getByRole("button").first();
      const prompt = await starter.innerText();
      await starter.click();
      assert.equal(await page.locator("article.message.user .bubble").innerText(), prompt);
      assert.equal(await waitForReplyEnd(page), "done");
      await context.close();
    });

    test("deleting a replying chat keeps it replying for Undo and opens the next chat; the dot shows for long titles", async () => {
      const { page, context, problems } = await freshChat(viewport);
      await sendMessage(page, "Older chat [demo:tokens=2]");
      assert.equal(await waitForReplyEnd(page), "done");
      await showList(page);
      await page.getByRole("button", { name: "+ New chat" }).click();
      const long = "A very long question that goes on and on well past the width of the list of chats [demo:tokens=400]";
      const deletes = [];
      page.on("request", (request) => request.method() === "DELETE" && deletes.push(request.url()));
      await sendMessage(page, long);
      await page.waitForFunction(() => (document.querySelector("article.message.assistant .reply")?.textContent ?? "").includes("token5"));
      await showList(page);
      // The replying dot is inside the visible row, before the ellipsized title.
      const row = page.locator(".conversation[aria-current=page]");
      const dot = row.getByTestId("replying-dot");
      const [rowBox, dotBox] = [await row.boundingBox(), await dot.boundingBox()];
      assert.ok(dotBox && dotBox.width > 0 && dotBox.x >= rowBox.x && dotBox.x + dotBox.width <= rowBox.x + rowBox.width, "dot visible in the row");
      assert.ok(await row.locator(".conversation-title").evaluate((el) => el.scrollWidth > el.clientWidth), "the long title is ellipsized");

      await page.getByRole("button", { name: /^Options for A very long question/ }).click();
      await page.getByRole("menuitem", { name: "Delete" }).click();
      // The next chat opens, not an empty one; the reply goes on, nothing was stopped.
      await closeList(page);
      await page.waitForFunction(() => document.querySelector(".chat-header h1")?.textContent === "Older chat");
      assert.deepEqual(deletes, []);
      await page.getByTestId("undo-toast").getByRole("button", { name: "Undo" }).click();
      await page.waitForFunction(() => document.querySelector(".chat-header h1")?.textContent?.startsWith("A very long question"));
      assert.equal(await waitForReplyEnd(page), "done", "the restored chat's reply ran to its end");
      assert.match(await lastReply(page).locator(".reply").innerText(), /token400\b/);
      assert.deepEqual(deletes, []);
      assert.deepEqual(problems, []);
      await context.close();
    });

    test("code: highlighted while it streams, a Wrap toggle, long lines scroll and are never clipped", async () => {
      const { page, context, problems } = await freshChat(viewport);
      await sendMessage(page, "Code please [stub:code-then-wait]");
      await page.locator(".code-block.open .hljs-keyword").first().waitFor();
      assert.equal(await lastReply(page).getAttribute("data-status"), "streaming");
      // (Stopping a stub reply would ask the backend to stop a stream it never had: a new chat instead.)
      await showList(page);
      await page.getByRole("button", { name: "+ New chat" }).click();
      await sendMessage(page, "A long line [stub:long-line]");
      assert.equal(await waitForReplyEnd(page), "done");
      const block = lastReply(page).locator(".code-block");
      const pre = block.locator("pre");
      const fits = await pre.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right, view: document.documentElement.clientWidth }));
      assert.ok(fits.scroll > fits.client, "the long line scrolls sideways");
      assert.ok(fits.right <= fits.view, "the block stays inside the page");
      const wrap = block.getByRole("button", { name: "Wrap long lines of js code" });
      await wrap.click();
      assert.equal(await wrap.getAttribute("aria-pressed"), "true");
      assert.ok(await pre.evaluate((el) => el.scrollWidth <= el.clientWidth), "wrapped: nothing to scroll");
      await assertAccessible(page, "highlighted code, wrapped");
      assert.deepEqual(problems, []);
      await context.close();
    });
  });
}

describe("chat features: theme, keyboard, scrolling", () => {
  test("theme toggle: dark is kept across a reload and applied before the first paint", async () => {
    const { page, context } = await freshChat(DESKTOP);
    await page.getByRole("combobox", { name: "Theme" }).selectOption("dark");
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await assertAccessible(page, "dark theme chosen on a light system");
    // Record the page's background in the first animation frame, before any paint.
    await page.addInitScript(() => {
      requestAnimationFrame(() => (window.__firstFrameBackground = getComputedStyle(document.documentElement).backgroundColor));
    });
    await page.reload();
    await page.waitForFunction(() => window.__firstFrameBackground !== undefined);
    assert.equal(await page.evaluate(() => window.__firstFrameBackground), "rgb(23, 24, 27)");
    await page.getByRole("combobox", { name: "Theme" }).selectOption("system");
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
    assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor), "rgb(255, 255, 255)");
    await context.close();
  });

  for (const [size, viewport] of SIZES) {
    test(`keyboard (${size}): Esc anywhere stops, Shift+Esc focuses the box, Ctrl+Shift+O new chat, ? shows the shortcuts`, async () => {
      const { page, context, problems } = await freshChat(viewport);
      await sendMessage(page, "Long [demo:tokens=3000]");
      await page.waitForFunction(() => (document.querySelector("article.message.assistant .reply")?.textContent ?? "").includes("token5"));
      await page.getByTestId("messages").focus();
      await page.keyboard.press("Escape");
      assert.equal(await waitForReplyEnd(page), "stopped");

      await page.getByTestId("messages").focus();
      await page.keyboard.press("?");
      const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
      await dialog.waitFor();
      await assertAccessible(page, "shortcuts dialog");
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden" });

      // "?" typed in the message box is text.
      await page.locator("#composer-input").focus();
      await page.keyboard.press("?");
      assert.equal(await page.locator("#composer-input").inputValue(), "?");
      assert.equal(await dialog.isVisible(), false);

      await page.getByTestId("messages").focus();
      await page.keyboard.press("Shift+Escape");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "composer-input");
      await page.keyboard.press("Control+Shift+O");
      assert.equal(await page.locator("article.message").count(), 0);
      assert.equal(await page.evaluate(() => document.activeElement?.id), "composer-input");
      assert.deepEqual(problems, []);
      await context.close();
    });
  }

  test("sending scrolls to the question even when the view was scrolled up", async () => {
    const { page, context } = await freshChat(PHONE);
    await sendMessage(page, "Long reply [demo:tokens=600]");
    assert.equal(await waitForReplyEnd(page), "done");
    await page.getByTestId("messages").evaluate((el) => (el.scrollTop = 0));
    await page.getByRole("button", { name: /Jump to latest/ }).waitFor();
    await sendMessage(page, "Next question [demo:tokens=2]");
    const question = page.locator("article.message.user").last();
    await page.waitForFunction(() => {
      const q = [...document.querySelectorAll("article.message.user")].at(-1);
      const box = document.querySelector('[data-testid="messages"]').getBoundingClientRect();
      const r = q.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom;
    });
    assert.equal(await question.locator(".bubble").innerText(), "Next question [demo:tokens=2]");
    await context.close();
  });
});
