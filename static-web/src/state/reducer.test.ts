import { describe, expect, it } from "vitest";
import type { Failure } from "../api/chatClient";
import { activeConversation, chatReducer, initialState, streamingMessageIn, type ChatAction } from "./reducer";
import { SYNC_TITLE_MAX_CHARS } from "./titles";
import type { ChatState } from "./types";

const run = (actions: ChatAction[], state: ChatState = initialState) => actions.reduce(chatReducer, state);
const send = (text = "Hello", ids = { c: "c1", u: "u1", a: "a1" }): ChatAction => ({
  type: "send",
  conversationId: ids.c,
  userId: ids.u,
  assistantId: ids.a,
  text,
  now: 1,
});
const reply = (state: ChatState) => activeConversation(state)!.messages.at(-1)!;
const networkFailure: Failure = { kind: "network", message: "The connection was lost.", retryable: true };

describe("chat reducer", () => {
  it("send creates a conversation with the user turn and a streaming reply", () => {
    const state = run([send("Hello there")]);
    expect(state.activeId).toBe("c1");
    expect(state.streaming).toEqual({ a1: "c1" });
    const conversation = activeConversation(state)!;
    expect(conversation.title).toBe("Hello there");
    expect(conversation.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ["user", "Hello there", undefined],
      ["assistant", "", "streaming"],
    ]);
    expect(state.stats.replies).toBe(1);
  });

  it("refuses a second send while a reply streams", () => {
    const state = run([send(), send("again", { c: "c1", u: "u2", a: "a2" })]);
    expect(activeConversation(state)!.messages).toHaveLength(2);
  });

  it("appends text and finishes with metrics", () => {
    const state = run([
      send(),
      { type: "appendText", messageId: "a1", text: "Hi" },
      { type: "appendText", messageId: "a1", text: " there" },
      {
        type: "finish",
        messageId: "a1",
        finishReason: "stop",
        usage: { outputTokens: 2 },
        metrics: { timeToFirstTokenMs: 12, tokensPerSecond: 30 },
        client: { clientTtftMs: 20 },
      },
    ]);
    expect(reply(state)).toMatchObject({
      content: "Hi there",
      status: "done",
      finishReason: "stop",
      metrics: { serverTtftMs: 12, serverTokensPerSecond: 30, clientTtftMs: 20, outputTokens: 2 },
    });
    expect(state.streaming).toEqual({});
  });

  it("keeps the reasoning summary apart from the reply, moves the stream's cursor with it, and drops it on a restart", () => {
    const meta: ChatAction = { type: "meta", messageId: "a1", model: "m", streamId: "s", lastEventId: "s:1" };
    const reasoned = run([
      send(),
      meta,
      { type: "appendReasoning", messageId: "a1", text: "**Weighing**", lastEventId: "s:3" },
      { type: "appendReasoning", messageId: "a1", text: " it", lastEventId: "s:4" },
      { type: "appendText", messageId: "a1", text: "Answer", lastEventId: "s:5" },
    ]);
    expect(reply(reasoned)).toMatchObject({ content: "Answer", reasoning: "**Weighing** it", stream: { streamId: "s", lastEventId: "s:5" } });
    // A resume after a reasoning frame asks for what follows it, not for the summary again.
    const afterSummary = run([send(), meta, { type: "appendReasoning", messageId: "a1", text: "x", lastEventId: "s:3" }]);
    expect(reply(afterSummary).stream).toEqual({ streamId: "s", lastEventId: "s:3" });

    const restarted = run([{ type: "reconnecting", messageId: "a1", attempt: 1, retryAt: 2, reason: networkFailure, network: true }], reasoned);
    expect(reply(restarted).reasoning).toBeUndefined();
  });

  it("marks when the model started thinking, keeps the first mark on a replay, and forgets it on a restart and at the end", () => {
    const thinking = run([send(), { type: "thinking", messageId: "a1", at: 1000 }, { type: "thinking", messageId: "a1", at: 5000 }]);
    expect(reply(thinking).thinkingSince).toBe(1000);

    const restarted = run([{ type: "reconnecting", messageId: "a1", attempt: 1, retryAt: 2, reason: networkFailure, network: true }], thinking);
    expect(reply(restarted).thinkingSince).toBeUndefined();

    const finished = run(
      [
        { type: "appendText", messageId: "a1", text: "Hi" },
        {
          type: "finish",
          messageId: "a1",
          finishReason: "stop",
          usage: { outputTokens: 70, reasoningTokens: 64 },
          metrics: { timeToFirstByteMs: 120, thinkingMs: 4000, timeToFirstTokenMs: 4120 },
        },
      ],
      thinking,
    );
    expect(reply(finished).thinkingSince).toBeUndefined();
    expect(reply(finished).metrics).toMatchObject({ serverTtfbMs: 120, serverThinkingMs: 4000, serverTtftMs: 4120, outputTokens: 70, reasoningTokens: 64 });
  });

  it("ignores events for a message that is not streaming (stale events after Stop)", () => {
    const stopped = run([send(), { type: "appendText", messageId: "a1", text: "part" }, { type: "stop", messageId: "a1" }]);
    const after = run([{ type: "appendText", messageId: "a1", text: "late" }], stopped);
    expect(after).toBe(stopped);
    expect(reply(after)).toMatchObject({ content: "part", status: "stopped", finishReason: "cancelled" });
  });

  it("a re-ask moves the text so far into a previous attempt (never erased) and streams the new attempt beside it", () => {
    const serverError: Failure = { kind: "server", message: "The model failed.", retryable: true, code: "upstream_unavailable" };
    const reconnecting = run([
      send(),
      { type: "meta", messageId: "a1", model: "demo", streamId: "s1", lastEventId: "s1:1" },
      { type: "appendText", messageId: "a1", text: "Partial answ", lastEventId: "s1:5" },
      { type: "reconnecting", messageId: "a1", attempt: 1, retryAt: 5000, reason: serverError, network: false },
    ]);
    expect(reply(reconnecting)).toMatchObject({
      content: "",
      previousAttempts: [{ content: "Partial answ", reason: "Server error: The model failed." }],
      restartPending: true,
      reconnects: 1,
      retryAt: 5000,
    });
    expect(reply(reconnecting).stream).toBeUndefined();
    // A server error is a retry, not a network reconnect.
    expect(reconnecting.stats).toMatchObject({ reconnects: 0, retries: 1 });

    const fresh = run([{ type: "appendText", messageId: "a1", text: "Fresh" }], reconnecting);
    expect(reply(fresh)).toMatchObject({ content: "Fresh", restartPending: false, previousAttempts: [{ content: "Partial answ" }] });
    const dismissed = chatReducer(fresh, { type: "dismissAttempt", messageId: "a1", index: 0 });
    expect(reply(dismissed).previousAttempts).toBeUndefined();
    expect(reply(dismissed).content).toBe("Fresh");
  });

  it("a re-ask after a drop counts as a network reconnect; an empty attempt leaves no previous attempt", () => {
    const state = run([
      send(),
      { type: "reconnecting", messageId: "a1", attempt: 1, retryAt: 1, reason: networkFailure, network: true },
    ]);
    expect(reply(state).previousAttempts).toBeUndefined();
    expect(state.stats).toMatchObject({ reconnects: 1, retries: 0 });
  });

  it("the text kept carries the id of the frame it ends with, so a resume continues exactly after it", () => {
    const state = run([
      send(),
      { type: "meta", messageId: "a1", model: "demo", streamId: "s1", lastEventId: "s1:1" },
      { type: "appendText", messageId: "a1", text: "Hel", lastEventId: "s1:3" },
    ]);
    expect(reply(state).stream).toEqual({ streamId: "s1", lastEventId: "s1:3" });
  });

  it("a failure keeps the partial text, records the reason and counts an error", () => {
    const state = run([
      send(),
      { type: "appendText", messageId: "a1", text: "Partial" },
      { type: "fail", messageId: "a1", failure: networkFailure },
    ]);
    expect(reply(state)).toMatchObject({ content: "Partial", status: "failed", failure: networkFailure, restartPending: false });
    expect(state.stats).toEqual({ replies: 1, failedReplies: 1, reconnects: 0, resumes: 0, retries: 0 });
    expect(state.streaming).toEqual({});
  });

  it("a rate-limit failure keeps the retry time for the countdown", () => {
    const failure: Failure = { kind: "rate_limited", message: "Slow down", retryable: true, retryAfterMs: 60_000 };
    const state = run([send(), { type: "fail", messageId: "a1", failure, retryAt: 61_000 }]);
    expect(reply(state)).toMatchObject({ status: "failed", retryAt: 61_000 });
  });

  it("records length and content-filter endings", () => {
    const state = run([
      send(),
      { type: "appendText", messageId: "a1", text: "cut" },
      { type: "finish", messageId: "a1", finishReason: "content_filter" },
    ]);
    expect(reply(state)).toMatchObject({ status: "done", finishReason: "content_filter", content: "cut" });
  });

  it("restartReply (Regenerate/Retry) re-streams the last reply in place; the old text stays as a previous attempt", () => {
    const failed = run([
      send(),
      { type: "appendText", messageId: "a1", text: "Old" },
      { type: "fail", messageId: "a1", failure: networkFailure },
    ]);
    const restarted = run([{ type: "restartReply", conversationId: "c1", messageId: "a1", now: 2 }], failed);
    expect(reply(restarted)).toMatchObject({
      content: "",
      previousAttempts: [{ content: "Old", reason: "Connection lost: The connection was lost." }],
      status: "streaming",
      reconnects: 0,
    });
    expect(reply(restarted).failure).toBeUndefined();
    expect(restarted.stats.replies).toBe(2);
    expect(activeConversation(restarted)!.messages).toHaveLength(2);
  });

  it("a restart that completes with no text ends empty; the old text is a previous attempt, not the reply", () => {
    const state = run([
      send(),
      { type: "appendText", messageId: "a1", text: "Old" },
      { type: "finish", messageId: "a1", finishReason: "stop" },
      { type: "restartReply", conversationId: "c1", messageId: "a1", now: 2 },
      { type: "finish", messageId: "a1", finishReason: "stop" },
    ]);
    expect(reply(state).content).toBe("");
    expect(reply(state).previousAttempts).toEqual([{ content: "Old", reason: "An earlier reply, regenerated." }]);
  });

  it("restartReply only applies to the last message", () => {
    const done = run([
      send(),
      { type: "finish", messageId: "a1", finishReason: "stop" },
      { type: "send", conversationId: "c1", userId: "u2", assistantId: "a2", text: "next", now: 3 },
      { type: "finish", messageId: "a2", finishReason: "stop" },
    ]);
    expect(run([{ type: "restartReply", conversationId: "c1", messageId: "a1", now: 4 }], done)).toBe(done);
  });

  it("keeps the most recently used conversation first", () => {
    const state = run([
      send("first", { c: "c1", u: "u1", a: "a1" }),
      { type: "finish", messageId: "a1", finishReason: "stop" },
      { type: "newChat" },
      send("second", { c: "c2", u: "u2", a: "a2" }),
      { type: "finish", messageId: "a2", finishReason: "stop" },
      { type: "selectChat", id: "c1" },
      { type: "send", conversationId: "c1", userId: "u3", assistantId: "a3", text: "more", now: 5 },
    ]);
    expect(state.conversations.map((c) => c.id)).toEqual(["c1", "c2"]);
  });

  it("New chat clears the selection; the conversation is created by the first send", () => {
    const state = run([send(), { type: "finish", messageId: "a1", finishReason: "stop" }, { type: "newChat" }]);
    expect(state.activeId).toBeNull();
    expect(state.conversations).toHaveLength(1);
  });

  it("delete of an idle chat removes the conversation, its selection and its stream", () => {
    const state = run([send(), { type: "finish", messageId: "a1", finishReason: "stop" }, { type: "deleteChat", id: "c1" }]);
    expect(state.conversations).toEqual([]);
    expect(state.activeId).toBeNull();
    expect(state.streaming).toEqual({});
    expect(state.deleted).toBeUndefined();
  });

  it("delete of the open chat opens the next one given", () => {
    let state = run([send("One", { c: "c1", u: "u1", a: "a1" }), send("Two", { c: "c2", u: "u2", a: "a2" })]);
    state = run([{ type: "finish", messageId: "a1", finishReason: "stop" }, { type: "finish", messageId: "a2", finishReason: "stop" }], state);
    expect(state.activeId).toBe("c2");
    state = chatReducer(state, { type: "deleteChat", id: "c2", nextId: "c1" });
    expect(state.activeId).toBe("c1");
  });

  it("a chat deleted while replying keeps receiving its reply; Undo brings it back as it is now", () => {
    let state = run([send("One"), { type: "appendText", messageId: "a1", text: "Par" }]);
    const removed = activeConversation(state)!;
    state = chatReducer(state, { type: "deleteChat", id: "c1" });
    expect(state.conversations).toEqual([]);
    expect(state.streaming).toEqual({ a1: "c1" });
    state = run([{ type: "appendText", messageId: "a1", text: "tial" }], state);
    state = chatReducer(state, { type: "restoreChat", conversation: removed, index: 0, wasActive: true });
    expect(state.deleted).toBeUndefined();
    expect(reply(state)).toMatchObject({ content: "Partial", status: "streaming" });
    state = chatReducer(state, { type: "finish", messageId: "a1", finishReason: "stop" });
    expect(reply(state)).toMatchObject({ content: "Partial", status: "done" });
  });

  it("the Undo window ending forgets a deleted replying chat and its stream", () => {
    let state = run([send("One"), { type: "deleteChat", id: "c1" }]);
    state = chatReducer(state, { type: "purgeDeleted", id: "c1" });
    expect(state.deleted).toBeUndefined();
    expect(state.streaming).toEqual({});
  });


  it("only the streaming message object changes on append (memoized messages stay equal)", () => {
    const before = run([
      send(),
      { type: "finish", messageId: "a1", finishReason: "stop" },
      { type: "send", conversationId: "c1", userId: "u2", assistantId: "a2", text: "next", now: 3 },
    ]);
    const after = run([{ type: "appendText", messageId: "a2", text: "x" }], before);
    const previous = activeConversation(before)!.messages;
    const next = activeConversation(after)!.messages;
    expect(next.slice(0, 3).every((m, i) => m === previous[i])).toBe(true);
    expect(next[3]).not.toBe(previous[3]);
    expect(next[3].content).toBe("x");
  });

  it("streams in two conversations at once; each reply ends on its own", () => {
    let state = run([send("One", { c: "c1", u: "u1", a: "a1" }), { type: "newChat" }, send("Two", { c: "c2", u: "u2", a: "a2" })]);
    expect(state.streaming).toEqual({ a1: "c1", a2: "c2" });
    state = run([{ type: "appendText", messageId: "a1", text: "for one" }, { type: "appendText", messageId: "a2", text: "for two" }], state);
    state = chatReducer(state, { type: "stop", messageId: "a1" });
    expect(state.streaming).toEqual({ a2: "c2" });
    expect(streamingMessageIn(state, "c1")).toBeUndefined();
    expect(streamingMessageIn(state, "c2")).toBe("a2");
    const byId = (id: string) => state.conversations.find((c) => c.id === id)!.messages.at(-1)!;
    expect(byId("c1")).toMatchObject({ content: "for one", status: "stopped" });
    expect(byId("c2")).toMatchObject({ content: "for two", status: "streaming" });
    // A second send into a conversation that is still streaming is refused; another conversation is free.
    expect(chatReducer(state, send("Again", { c: "c2", u: "u3", a: "a3" }))).toBe(state);
    expect(chatReducer(state, send("Again", { c: "c1", u: "u3", a: "a3" })).streaming).toEqual({ a2: "c2", a3: "c1" });
  });

  it("a resume keeps the text and continues it, and is counted apart from restarts", () => {
    let state = run([send(), { type: "appendText", messageId: "a1", text: "Hel" }]);
    state = chatReducer(state, { type: "resuming", messageId: "a1", attempt: 1, retryAt: 5, reason: { ...networkFailure, dropped: true } });
    expect(reply(state)).toMatchObject({ content: "Hel", resuming: true, resumeAttempt: 1, status: "streaming" });
    expect(reply(state).restartPending).toBeFalsy();
    state = run([{ type: "resumed", messageId: "a1" }, { type: "appendText", messageId: "a1", text: "lo" }], state);
    expect(reply(state)).toMatchObject({ content: "Hello", resuming: false, resumes: 1 });
    state = chatReducer(state, { type: "finish", messageId: "a1", finishReason: "stop" });
    expect(reply(state)).toMatchObject({ content: "Hello", status: "done", resumes: 1 });
    // The drop was a network reconnect; the resume continued the same reply.
    expect(state.stats).toEqual({ replies: 1, failedReplies: 0, reconnects: 1, resumes: 1, retries: 0 });
  });

  it("hydrate streams again the replies stored as streaming (to be resumed) and adds the stored counts", () => {
    const stored = {
      id: "c9",
      title: "t",
      titleSource: "fallback" as const,
      createdAt: 1,
      updatedAt: 1,
      messages: [
        { id: "u9", role: "user" as const, content: "q", createdAt: 1 },
        { id: "a9", role: "assistant" as const, content: "Part", createdAt: 1, status: "streaming" as const, resuming: true, stream: { streamId: "s9", lastEventId: "s9:4" } },
      ],
    };
    const state = chatReducer(initialState, {
      type: "hydrate",
      conversations: [stored],
      activeId: "c9",
      stats: { replies: 4, failedReplies: 1, reconnects: 2, resumes: 1, retries: 3 },
    });
    expect(state.streaming).toEqual({ a9: "c9" });
    expect(state.stats).toEqual({ replies: 4, failedReplies: 1, reconnects: 2, resumes: 1, retries: 3 });
  });

  it("a followed reply becomes this tab's on takeover; adopt replaces the conversation with the stored one", () => {
    let state = run([send(), { type: "follow", messageId: "a1", followed: true }]);
    expect(reply(state).followed).toBe(true);
    state = chatReducer(state, { type: "follow", messageId: "a1", followed: false });
    expect(reply(state).followed).toBeUndefined();
    const saved = { ...activeConversation(state)!, messages: activeConversation(state)!.messages.map((m) => (m.role === "assistant" ? { ...m, content: "Done elsewhere", status: "done" as const } : m)) };
    state = chatReducer(state, { type: "adopt", conversation: saved });
    expect(reply(state)).toMatchObject({ content: "Done elsewhere", status: "done" });
    expect(state.streaming).toEqual({});
  });

  it("offline is shown while waiting and cleared when the reply ends", () => {
    let state = run([send(), { type: "offline", messageId: "a1", offline: true }]);
    expect(reply(state).offline).toBe(true);
    state = chatReducer(state, { type: "finish", messageId: "a1", finishReason: "stop" });
    expect(reply(state).offline).toBeUndefined();
  });

  it("delete removes a conversation; undo puts it back in its place", () => {
    let state = run([send("One", { c: "c1", u: "u1", a: "a1" }), send("Two", { c: "c2", u: "u2", a: "a2" })]);
    state = run([{ type: "finish", messageId: "a1", finishReason: "stop" }, { type: "finish", messageId: "a2", finishReason: "stop" }], state);
    const before = state.conversations;
    const removed = before[1];
    state = chatReducer(state, { type: "deleteChat", id: removed.id });
    expect(state.conversations.map((c) => c.id)).toEqual([before[0].id]);
    state = chatReducer(state, { type: "restoreChat", conversation: removed, index: 1, wasActive: false });
    expect(state.conversations).toEqual(before);
  });

  it("edit after a refused request removes the refused turn only", () => {
    const refused: Failure = { kind: "http", message: "Too long", retryable: false, status: 400 };
    let state = run([send("First"), { type: "finish", messageId: "a1", finishReason: "stop" }]);
    state = run([send("Too long", { c: "c1", u: "u2", a: "a2" }), { type: "fail", messageId: "a2", failure: refused }], state);
    state = chatReducer(state, { type: "removeLastTurn", conversationId: "c1", messageId: "a2" });
    expect(activeConversation(state)!.messages.map((m) => m.id)).toEqual(["u1", "a1"]);
    // Not for a reply that did not fail.
    expect(chatReducer(state, { type: "removeLastTurn", conversationId: "c1", messageId: "a1" })).toBe(state);
  });
});

describe("setTitle and the server's title limit", () => {
  it("caps a user's rename at what the conversation API keeps, so the chat still syncs", () => {
    const state = run([send(), { type: "setTitle", conversationId: "c1", title: "r".repeat(SYNC_TITLE_MAX_CHARS + 100), source: "user" }]);
    expect(activeConversation(state)!.title).toBe("r".repeat(SYNC_TITLE_MAX_CHARS));
    expect(activeConversation(state)!.titleSource).toBe("user");
  });
});
