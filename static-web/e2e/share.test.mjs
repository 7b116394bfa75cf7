// Browser tests of shared links (docs/conversations.md, "Shared links"): a signed-in user shares a chat from its row
// menu; the link opens in a fresh browser context with no sign-in as a read-only view; "Continue this chat" copies it
// into that browser; "Stop sharing" revokes it and the link then says so. The backend runs with sign-in on against the
// local stand-in for Entra ID (authority.mjs) and keeps shares in its memory.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { signInAs, startAuthority } from "./authority.mjs";
import { DESKTOP, PHONE, deployedCsp, launchBrowser, openChat, seriousA11yViolations, sendMessage, startBackend, waitForReplyEnd } from "./harness.mjs";

const USER = "21212121-2222-3333-4444-555555555555";

let authority;
let backend;
let browser;
const contexts = [];

before(async () => {
  authority = await startAuthority();
  [backend, browser] = await Promise.all([startBackend({ tokenDelayMs: 1, env: authority.settings }), launchBrowser()]);
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await backend?.stop();
  await authority?.stop();
});

async function newContext(viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  return context;
}

/** A shared link in a page of its own, with the deployed CSP, page errors and dialogs recorded. */
async function openShared(context, query) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  const csp = deployedCsp();
  await page.route((url) => url.origin === backend.baseUrl && url.pathname === "/", async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": csp } });
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(`${backend.baseUrl}/${query}`);
  return { page, problems };
}

const dialogOf = (page) => page.getByRole("dialog", { name: /^Share / });

async function openShareDialog(page) {
  await page.getByRole("button", { name: /^Options for / }).first().click();
  await page.getByRole("menuitem", { name: "Share link…" }).click();
  await dialogOf(page).waitFor();
}

async function axeAtBothSizes(page, selector) {
  for (const viewport of [PHONE, DESKTOP]) {
    await page.setViewportSize(viewport);
    assert.deepEqual(await seriousA11yViolations(page, selector), [], `${selector} at ${viewport.width}x${viewport.height}`);
  }
}

test("share a chat, read it signed out, continue it, stop sharing: the link then says it is gone", async () => {
  // The owner: signed in, one finished chat.
  const owner = await newContext();
  await signInAs(owner, authority, USER);
  const { page, problems } = await openChat(owner, backend.baseUrl, { config: { auth: authority.pageAuth } });
  await sendMessage(page, "Plan a **day** in Lisbon [demo:tokens=6]");
  assert.equal(await waitForReplyEnd(page), "done");
  const reply = (await page.locator("article.message.assistant .markdown").last().textContent()).trim();

  await openShareDialog(page);
  const dialog = dialogOf(page);
  const created = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/shares" && r.request().method() === "POST");
  await dialog.getByRole("button", { name: "Create link" }).click();
  const createdResponse = await created;
  assert.equal(createdResponse.status(), 201);
  const sharedTitle = (await createdResponse.json()).title;
  const link = await dialog.getByLabel(/^Link/).inputValue();
  const { origin, searchParams } = new URL(link);
  assert.equal(origin, backend.baseUrl);
  const id = searchParams.get("share");
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  await page.getByTestId("share-status").filter({ hasText: "Link created." }).waitFor();
  // Copy: the button says so, and the status line tells screen readers.
  await owner.grantPermissions(["clipboard-read", "clipboard-write"], { origin: backend.baseUrl });
  await dialog.getByRole("button", { name: "Copy link" }).click();
  await page.getByTestId("share-status").filter({ hasText: "Link copied." }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
  // Focus stays in the modal dialog, which is axe-clean at both sizes.
  assert.equal(await page.evaluate(() => document.activeElement?.closest("dialog") !== null), true);
  await axeAtBothSizes(page, ".share-dialog");
  // Esc closes it and gives the focus back to the chat's row.
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  // The page moves the focus on the frame after the dialog closes (the menu item that opened it is gone).
  await page.waitForFunction(() => document.activeElement?.classList.contains("conversation") === true);

  // A reader: a fresh browser context, never signed in, same-origin anonymous config.
  const reader = await newContext();
  const apiRequests = [];
  reader.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/api/")) apiRequests.push({ path: new URL(request.url()).pathname, auth: request.headers().authorization });
  });
  const shared = await openShared(reader, `?share=${id}`);
  await shared.page.getByTestId("shared-banner").waitFor();
  assert.match(await shared.page.getByTestId("shared-banner").textContent(), /Shared conversation/);
  assert.ok(sharedTitle);
  assert.equal(await shared.page.locator("h1").textContent(), sharedTitle);
  assert.equal(await shared.page.locator("article.message.user").textContent(), "Plan a **day** in Lisbon [demo:tokens=6]");
  assert.equal((await shared.page.locator("article.message.assistant .markdown").textContent()).trim(), reply);
  // Read-only: no message box, no edit, no regenerate.
  assert.equal(await shared.page.locator("#composer-input, .edit-message, textarea").count(), 0);
  assert.deepEqual(apiRequests, [{ path: `/api/shares/${id}`, auth: undefined }]);
  await axeAtBothSizes(shared.page, "document");

  // Continue this chat: a new chat of the reader's browser, opened on the chat page.
  await shared.page.getByRole("button", { name: "Continue this chat" }).click();
  await shared.page.waitForSelector("#composer-input");
  await shared.page.locator("article.message.user", { hasText: "Plan a **day** in Lisbon" }).waitFor();
  assert.equal(new URL(shared.page.url()).search, "");
  // This deployment serves the reader no sign-in, so the row menu has no Share item (there is nobody to own a link).
  await shared.page.getByRole("button", { name: /^Options for / }).first().click();
  await shared.page.getByRole("menuitem", { name: "Export JSON" }).waitFor();
  assert.equal(await shared.page.getByRole("menuitem", { name: "Share link…" }).count(), 0);
  await shared.page.keyboard.press("Escape");

  // The owner stops sharing: the dialog finds the link again (from the server) and revokes it.
  await openShareDialog(page);
  assert.equal(await dialog.getByLabel(/^Link/).inputValue(), link);
  const revoked = page.waitForResponse((r) => r.request().method() === "DELETE" && new URL(r.url()).pathname === `/api/shares/${id}`);
  await dialog.getByRole("button", { name: "Stop sharing" }).click();
  assert.equal((await revoked).status(), 204);
  await page.getByTestId("share-status").filter({ hasText: "Sharing stopped." }).waitFor();
  await dialog.getByRole("button", { name: "Create link" }).waitFor();
  await dialog.getByRole("button", { name: "Close" }).click();
  await dialog.waitFor({ state: "hidden" });

  // The link now says it is gone, clearly, not a blank page.
  const gone = await openShared(reader, `?share=${id}`);
  await gone.page.getByTestId("share-gone").waitFor();
  assert.match(await gone.page.getByTestId("share-gone").textContent(), /not available/);
  await axeAtBothSizes(gone.page, "document");

  assert.deepEqual([...problems, ...shared.problems, ...gone.problems], []);
  assert.deepEqual(await gone.page.evaluate(() => window.__cspViolations), []);
});

test("model output in a shared chat is sanitized before it becomes HTML; an offline reader gets a message and Try again", async () => {
  const body = {
    conversationId: "hostile",
    title: "Hostile",
    messages: [
      { role: "user", content: "<img src=x onerror=\"window.__pwned=1\">" },
      { role: "assistant", content: "**Rendered** as markdown. Hi <img src=x onerror=\"window.__pwned=1\"> [link](javascript:window.__pwned=1) <script>window.__pwned=1</script>" },
    ],
  };
  const response = await fetch(`${backend.baseUrl}/api/shares`, {
    method: "POST",
    headers: { Authorization: `Bearer ${authority.token(USER)}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201);
  const { id } = await response.json();

  const reader = await newContext(PHONE);
  const { page, problems } = await openShared(reader, `?share=${id}`);
  await page.getByTestId("shared-banner").waitFor();
  assert.equal(await page.locator("article.message.assistant strong").textContent(), "Rendered");
  assert.equal(await page.locator("article.message.assistant img[onerror], script:not([src]), a[href^='javascript:']").count(), 0);
  // The question is text, as in a chat: its markup shows as typed.
  assert.equal(await page.locator("article.message.user").textContent(), body.messages[0].content);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  // Offline: the read fails, and the page says what happened and offers Try again.
  const api = `${backend.baseUrl}/api/shares/${id}`;
  await reader.route(api, (route) => route.abort("internetdisconnected"));
  const offline = await openShared(reader, `?share=${id}`);
  await offline.page.getByTestId("share-unavailable").waitFor();
  assert.match(await offline.page.getByTestId("share-unavailable").textContent(), /cannot be reached/);
  await reader.unroute(api);
  await offline.page.getByRole("button", { name: "Try again" }).click();
  await offline.page.getByTestId("shared-banner").waitFor();
  assert.deepEqual([...problems, ...offline.problems], []);
});
