// Browser tests of conversation sync (docs/conversations.md): two browser contexts are two devices signed in as
// one user. The backend runs with sign-in on against a local stand-in for Entra ID (authority.mjs), which mints the
// tokens the pages get through the test session hook (src/api/testSession.ts); conversations are kept in the
// backend's memory (no storage account). A second backend with sign-in off serves the anonymous page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { signInAs, startAuthority } from "./authority.mjs";
import { DESKTOP, PHONE, launchBrowser, openChat, seriousA11yViolations, sendMessage, startBackend, waitForReplyEnd } from "./harness.mjs";

/** Short demo replies: the tests are about what is kept, not about streaming. */
const TOKEN_DELAY_MS = 1;
const USER = "11111111-2222-3333-4444-555555555555";
/** CHAT_CONVERSATION_MAX_BYTES of the signed-in backend (its minimum, 16 KiB). */
const MAX_BYTES = 16 * 1024;
const OTHER_USER = "99999999-8888-7777-6666-555555555555";

let authority;
let backend;
let anonymousBackend;
let browser;
const contexts = [];

before(async () => {
  authority = await startAuthority();
  [backend, anonymousBackend, browser] = await Promise.all([
    // The smallest conversation limit the server allows: three long messages pass it.
    startBackend({ tokenDelayMs: TOKEN_DELAY_MS, env: { ...authority.settings, CHAT_CONVERSATION_MAX_BYTES: String(MAX_BYTES) } }),
    startBackend({ tokenDelayMs: TOKEN_DELAY_MS, env: { CHAT_AUTH_ENABLED: "false" } }),
    launchBrowser(),
  ]);
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await Promise.all([backend?.stop(), anonymousBackend?.stop()]);
  await authority?.stop();
});

/** A device: its own browser context (own IndexedDB), signed in as `oid`, the page open and its first sync done. */
async function device(oid, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  await signInAs(context, authority, oid);
  const log = [];
  context.on("response", (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith("/api/conversations")) log.push({ method: response.request().method(), path: url.pathname, status: response.status() });
  });
  const firstList = context.waitForEvent("response", (r) => new URL(r.url()).pathname === "/api/conversations" && r.request().method() === "GET");
  const { page, problems } = await openChat(context, backend.baseUrl, { config: { auth: authority.pageAuth } });
  assert.equal((await firstList).status(), 200);
  return { context, page, problems, log };
}

/** The server's copy, read as `oid` would (the API with that user's token). */
async function serverCopy(oid, id) {
  const response = await fetch(`${backend.baseUrl}/api/conversations/${encodeURIComponent(id)}`, {
    headers: { Authorization: `Bearer ${authority.token(oid)}`, Accept: "application/json" },
  });
  return { status: response.status, body: response.status === 200 ? await response.json() : await response.text() };
}

/** Waits for this page's next successful save of a conversation; returns the conversation's id. */
async function nextSave(page) {
  const response = await page.waitForResponse((r) => r.request().method() === "PUT" && new URL(r.url()).pathname.startsWith("/api/conversations/") && r.status() === 200);
  return decodeURIComponent(new URL(response.url()).pathname.split("/").at(-1));
}

/** Pulls as the page does when the tab regains focus; resolves once that pull's list has been answered. */
async function focusAndPull(page) {
  const listed = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/conversations" && r.request().method() === "GET");
  await page.evaluate(() => window.dispatchEvent(new Event("focus")));
  assert.equal((await listed).status(), 200);
}

const row = (page, id) => page.locator(`nav[aria-label="Conversations"] [data-conversation-id="${id}"]`);
const userTexts = (doc) => doc.messages.filter((m) => m.role === "user").map((m) => m.content);

let sharedId;
let laptop;
let phone;

test("a chat made on one device appears on the other, on focus and on reload", async () => {
  laptop = await device(USER);
  phone = await device(USER, PHONE);

  const saved = nextSave(laptop.page);
  await sendMessage(laptop.page, "Made on the laptop [demo:tokens=4]");
  assert.equal(await waitForReplyEnd(laptop.page), "done");
  sharedId = await saved;
  const onServer = await serverCopy(USER, sharedId);
  assert.equal(onServer.status, 200);
  assert.deepEqual(userTexts(onServer.body), ["Made on the laptop [demo:tokens=4]"]);

  await focusAndPull(phone.page);
  // The phone's sidebar is a drawer: the row is in the DOM whether or not the drawer is open.
  await row(phone.page, sharedId).waitFor({ state: "attached" });

  // And a device that opens the page afresh gets it too.
  const fresh = await device(USER);
  await row(fresh.page, sharedId).waitFor({ state: "attached" });
  await fresh.context.close();

  assert.deepEqual([...laptop.problems, ...phone.problems, ...fresh.problems], []);
});

test("both devices send on a stale copy: the second save meets 412, merges, and keeps both messages", async () => {
  assert.ok(sharedId, "needs the chat of the first test");
  // Both open the shared chat; the phone saw version 1 and does not pull again before it sends.
  await phone.page.evaluate((id) => document.querySelector(`[data-conversation-id="${id}"]`).click(), sharedId);
  await phone.page.locator("article.message.user", { hasText: "Made on the laptop" }).waitFor();

  const laptopSaved = nextSave(laptop.page);
  await sendMessage(laptop.page, "Second, from the laptop [demo:tokens=4]");
  assert.equal(await waitForReplyEnd(laptop.page), "done");
  await laptopSaved;

  const conflicts = phone.log.length;
  const phoneSaved = nextSave(phone.page);
  await sendMessage(phone.page, "Second, from the phone [demo:tokens=4]");
  assert.equal(await waitForReplyEnd(phone.page), "done");
  await phoneSaved;
  const phoneRequests = phone.log.slice(conflicts).map((r) => `${r.method} ${r.status}`);
  // The stale save was refused, the server's copy read, and the merge saved on its version.
  assert.deepEqual(phoneRequests.slice(0, 3), ["PUT 412", "GET 200", "PUT 200"], JSON.stringify(phoneRequests));

  const onServer = await serverCopy(USER, sharedId);
  assert.deepEqual(userTexts(onServer.body).sort(), [
    "Made on the laptop [demo:tokens=4]",
    "Second, from the laptop [demo:tokens=4]",
    "Second, from the phone [demo:tokens=4]",
  ]);
  assert.equal(onServer.body.messages.filter((m) => m.role === "assistant").length, 3);

  // The laptop gets the phone's message on its next pull.
  await focusAndPull(laptop.page);
  await laptop.page.locator("article.message.user", { hasText: "Second, from the phone" }).waitFor();
  // Chromium logs every 4xx response to the console; the 412 is the conflict path itself, asserted above.
  const conflictLogged = (p) => p === "console: Failed to load resource: the server responded with a status of 412 (Precondition Failed)";
  assert.equal(phone.problems.filter(conflictLogged).length, 1);
  phone.problems.splice(0, phone.problems.length, ...phone.problems.filter((p) => !conflictLogged(p)));
  assert.deepEqual([...laptop.problems, ...phone.problems], []);
});

test("a chat deleted on one device is a tombstone on the server and leaves the other device", async () => {
  assert.ok(sharedId, "needs the chat of the first test");
  const deleted = laptop.page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().endsWith(`/api/conversations/${sharedId}`));
  await laptop.page.getByRole("button", { name: /^Options for / }).first().click();
  await laptop.page.getByRole("menuitem", { name: "Delete" }).click();
  assert.equal((await deleted).status(), 204);

  const onServer = await serverCopy(USER, sharedId);
  assert.equal(onServer.status, 200);
  assert.equal(onServer.body.deleted, true);
  assert.equal(onServer.body.id, sharedId);

  await phone.page.reload();
  await phone.page.waitForSelector("#composer-input");
  await row(phone.page, sharedId).waitFor({ state: "detached" });
  assert.deepEqual([...laptop.problems, ...phone.problems], []);
});

test("another user sees none of the first user's chats", async () => {
  const saved = nextSave(laptop.page);
  await laptop.page.getByRole("button", { name: "+ New chat" }).click();
  await sendMessage(laptop.page, "Only mine [demo:tokens=4]");
  assert.equal(await waitForReplyEnd(laptop.page), "done");
  const mine = await saved;

  const stranger = await device(OTHER_USER);
  const list = await fetch(`${backend.baseUrl}/api/conversations`, { headers: { Authorization: `Bearer ${authority.token(OTHER_USER)}` } });
  assert.deepEqual((await list.json()).items, []);
  assert.equal((await serverCopy(OTHER_USER, mine)).status, 404);
  assert.equal(await stranger.page.locator("nav[aria-label='Conversations'] [data-conversation-id]").count(), 0);
  assert.deepEqual(stranger.problems, []);
});

test("an anonymous page stays local-only: no conversation requests, its chat kept in this browser", async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  contexts.push(context);
  const requests = [];
  context.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/api/conversations")) requests.push(request.url());
  });
  const { page, problems } = await openChat(context, anonymousBackend.baseUrl);
  await sendMessage(page, "Anonymous [demo:tokens=4]");
  assert.equal(await waitForReplyEnd(page), "done");
  await page.evaluate(() => window.dispatchEvent(new Event("focus")));
  await page.reload();
  await page.locator("article.message.user", { hasText: "Anonymous" }).waitFor();
  assert.deepEqual(requests, []);
  assert.deepEqual(problems, []);
});

test("a chat too large to sync says so, quietly, and stays in this browser; the others still sync", async () => {
  const { page, problems, log } = await device(USER);
  const notice = page.getByTestId("too-large-to-sync");
  await page.getByRole("button", { name: "+ New chat" }).click();
  // Three messages of 7,000 characters (under the page's 8,000 per message): the first two saves fit, the third does not.
  const long = (n) => `${n} ${"long ".repeat(1_400)}[demo:tokens=4]`;
  for (const n of [1, 2]) {
    const saved = nextSave(page);
    await sendMessage(page, long(n));
    assert.equal(await waitForReplyEnd(page), "done");
    await saved;
    assert.equal(await notice.count(), 0);
  }
  const refused = page.waitForResponse((r) => r.request().method() === "PUT" && r.status() === 413);
  await sendMessage(page, long(3));
  assert.equal(await waitForReplyEnd(page), "done");
  const id = decodeURIComponent(new URL((await refused).url()).pathname.split("/").at(-1));
  await notice.waitFor();
  // In the page's polite live region, not an alert: nothing was lost.
  assert.equal(await notice.evaluate((el) => el.closest("[role=status]") !== null && el.closest("[role=alert]") === null), true);
  // The server keeps the last version that fitted.
  assert.equal(userTexts((await serverCopy(USER, id)).body).length, 2);
  for (const viewport of [PHONE, DESKTOP]) {
    await page.setViewportSize(viewport);
    assert.deepEqual(await seriousA11yViolations(page), [], `at ${viewport.width}x${viewport.height}`);
  }

  // Kept here: after a reload it is still in the list, and the load's sync, refused again, shows the notice again.
  const refusedAgain = page.waitForResponse((r) => r.request().method() === "PUT" && r.status() === 413);
  await page.reload();
  await page.waitForSelector("#composer-input");
  await refusedAgain;
  await page.evaluate((chatId) => document.querySelector(`[data-conversation-id="${chatId}"]`).click(), id);
  await notice.waitFor();

  // Another chat is unaffected, and has no notice.
  await page.getByRole("button", { name: "+ New chat" }).click();
  const saved = nextSave(page);
  await sendMessage(page, "Small [demo:tokens=4]");
  assert.equal(await waitForReplyEnd(page), "done");
  assert.equal((await serverCopy(USER, await saved)).status, 200);
  assert.equal(await notice.count(), 0);
  assert.ok(log.some((r) => r.status === 413));
  // Chromium logs every 4xx response to the console; the 413s are the refusals asserted above.
  assert.deepEqual(problems.filter((p) => !p.includes("status of 413")), []);
});

test("the signed-in page is axe-clean at phone and desktop sizes", async () => {
  for (const viewport of [PHONE, DESKTOP]) {
    await laptop.page.setViewportSize(viewport);
    assert.deepEqual(await seriousA11yViolations(laptop.page), [], `at ${viewport.width}x${viewport.height}`);
  }
});
