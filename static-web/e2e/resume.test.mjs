// Browser tests of the page against the backend's resumable streams and its /config.json on the
// standalone host, per the streaming protocol. They need the backend that
// serves GET/DELETE /api/chat/streams/{streamId} and /config.json (they fail against one that does not).
// The drop is real: the test proxy (proxy.mjs) cuts the socket mid-reply.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { lastReply, openChat, sendMessage, startStack, stat, waitForReplyEnd } from "./harness.mjs";

let stack;
let backend;
let proxy;

before(async () => {
  stack = await startStack({ tokenDelayMs: 15 });
  ({ backend, proxy } = stack);
});

after(async () => {
  await stack?.stop();
});

async function freshChat() {
  return openChat(await stack.newContext(), proxy.url);
}

const replyText = (page) => lastReply(page).locator(".reply").innerText();
const STREAM_ID = /^[A-Za-z0-9_-]{22}$/;

test("a connection dropped mid-reply resumes the same reply: same text as without the drop, 'resumed' shown and counted", async () => {
  const message = "Resume me [demo:tokens=300]";
  // The same message without the drop, to compare with: the demo model's reply depends on the message alone, so it
  // streams beside the dropped one, in a context of its own, straight from the backend (the proxy's cut is for the other).
  const uninterrupted = (async () => {
    const { page } = await openChat(await stack.newContext(), backend.baseUrl);
    await sendMessage(page, message);
    assert.equal(await waitForReplyEnd(page), "done");
    return replyText(page);
  })();
  uninterrupted.catch(() => {}); // reported where it is awaited, not also as unhandled when the test fails first

  const { page, problems } = await freshChat();
  const resumes = [];
  page.on("request", (request) => {
    if (request.url().includes("/api/chat/streams/") && request.method() === "GET") resumes.push(request);
  });
  proxy.dropNextStream(40); // meta + 39 chunks, then the socket goes away
  await sendMessage(page, message);
  assert.equal(await waitForReplyEnd(page, 60_000), "done");

  assert.equal(proxy.drops.length, 1, "the connection was dropped once");
  assert.equal(await replyText(page), await uninterrupted, "nothing lost, nothing repeated");
  assert.match(await lastReply(page).locator('[data-notice="resumed"]').innerText(), /Resumed after a dropped connection/);
  assert.equal(await stat(page, "resumes"), "1");
  assert.equal(await stat(page, "reconnects"), "1", "the drop is a network reconnect");
  assert.equal(await stat(page, "retries"), "0", "not re-asked");

  assert.equal(resumes.length, 1);
  const [streamId] = new URL(resumes[0].url()).pathname.split("/").slice(-1);
  assert.match(streamId, STREAM_ID);
  const lastEventId = await resumes[0].headerValue("last-event-id");
  assert.match(lastEventId ?? "", new RegExp(`^${streamId}:\\d+$`), "Last-Event-ID is <streamId>:<seq>");
  assert.equal((await resumes[0].response())?.status(), 200);
  // The browser logs the drop this test caused; nothing else may be logged.
  assert.deepEqual(problems.filter((p) => !p.includes("ERR_INCOMPLETE_CHUNKED_ENCODING")), []);
});

test("Stop sends DELETE /api/chat/streams/{streamId}, answered 204, and keeps the partial reply", async () => {
  const { page } = await freshChat();
  const deletes = [];
  page.on("request", (request) => {
    if (request.method() === "DELETE") deletes.push(request);
  });
  // The page asks again only when a stop was not confirmed (503/504): after a 204 there is nothing more to wait for.
  const answered = page.waitForResponse((response) => response.request().method() === "DELETE");
  await sendMessage(page, "Stop me [demo:tokens=1000]");
  await page.waitForFunction(() => (document.querySelector("article.message.assistant .reply")?.textContent ?? "").length > 100);
  await page.getByRole("button", { name: "Stop generating" }).click();
  assert.equal(await waitForReplyEnd(page), "stopped");
  assert.equal((await answered).status(), 204);
  assert.equal(deletes.length, 1);
  assert.match(new URL(deletes[0].url()).pathname, /^\/api\/chat\/streams\/[A-Za-z0-9_-]{22}$/);
  assert.equal((await deletes[0].response())?.status(), 204);
});

test("the standalone host serves /config.json (no 404 in the console on page load)", async () => {
  const context = await stack.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  const config = page.waitForResponse((response) => new URL(response.url()).pathname === "/config.json");
  await page.goto(`${backend.baseUrl}/`);
  const response = await config;
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-type"] ?? "", /json/);
  const body = await response.json();
  assert.equal(typeof body, "object");
  await page.waitForSelector("#composer-input");
  assert.deepEqual(errors, []);
});
