import { describe, expect, it } from "vitest";
import { activeConversation, chatReducer, initialState, type ChatAction } from "./reducer";
import type { ChatState } from "./types";

const run = (actions: ChatAction[], state: ChatState = initialState) => actions.reduce(chatReducer, state);
const turn = (n: number, text: string, reply: string): ChatAction[] => [
  { type: "send", conversationId: "c1", userId: `u${n}`, assistantId: `a${n}`, text, now: n },
  { type: "appendText", messageId: `a${n}`, text: reply },
  { type: "finish", messageId: `a${n}`, finishReason: "stop" },
];
const texts = (state: ChatState) => activeConversation(state)!.messages.map((m) => m.content);
const two = () => run([...turn(1, "Q1", "R1"), ...turn(2, "Q2", "R2")]);

describe("versions", () => {
  it("regenerate keeps the old reply as a version, and the new one streams in its place", () => {
    let state = run([{ type: "regenerate", conversationId: "c1", messageId: "a2", now: 10 }], two());
    const last = activeConversation(state)!.messages[3];
    expect(last).toMatchObject({ id: "a2", content: "", status: "streaming", versionIndex: 1 });
    expect(last.versions).toHaveLength(1);
    expect(last.versions![0]).toMatchObject({ content: "R2", status: "done", after: [] });
    expect(state.streaming).toEqual({ a2: "c1" });
    state = run([{ type: "appendText", messageId: "a2", text: "R2b" }, { type: "finish", messageId: "a2", finishReason: "stop" }], state);
    expect(texts(state)).toEqual(["Q1", "R1", "Q2", "R2b"]);
    state = chatReducer(state, { type: "selectVersion", conversationId: "c1", messageId: "a2", index: 0 });
    expect(texts(state)).toEqual(["Q1", "R1", "Q2", "R2"]);
    expect(activeConversation(state)!.messages[3]).toMatchObject({ versionIndex: 0 });
    state = chatReducer(state, { type: "selectVersion", conversationId: "c1", messageId: "a2", index: 1 });
    expect(texts(state)).toEqual(["Q1", "R1", "Q2", "R2b"]);
  });

  it("regenerating an earlier reply branches: the later turns stay with the old version", () => {
    let state = run([{ type: "regenerate", conversationId: "c1", messageId: "a1", now: 10 }], two());
    expect(texts(state)).toEqual(["Q1", ""]);
    state = run([{ type: "appendText", messageId: "a1", text: "R1b" }, { type: "finish", messageId: "a1", finishReason: "stop" }], state);
    state = chatReducer(state, { type: "selectVersion", conversationId: "c1", messageId: "a1", index: 0 });
    expect(texts(state)).toEqual(["Q1", "R1", "Q2", "R2"]);
    state = chatReducer(state, { type: "selectVersion", conversationId: "c1", messageId: "a1", index: 1 });
    expect(texts(state)).toEqual(["Q1", "R1b"]);
  });

  it("editing an earlier question branches off; the old question and its turns stay reachable", () => {
    let state = run([{ type: "editMessage", conversationId: "c1", messageId: "u1", text: "Q1 edited", assistantId: "a9", now: 10 }], two());
    expect(texts(state)).toEqual(["Q1 edited", ""]);
    expect(state.streaming).toEqual({ a9: "c1" });
    const question = activeConversation(state)!.messages[0];
    expect(question).toMatchObject({ id: "u1", versionIndex: 1 });
    expect(question.versions![0].after.map((m) => m.content)).toEqual(["R1", "Q2", "R2"]);
    state = run([{ type: "appendText", messageId: "a9", text: "R9" }, { type: "finish", messageId: "a9", finishReason: "stop" }], state);
    state = chatReducer(state, { type: "selectVersion", conversationId: "c1", messageId: "u1", index: 0 });
    expect(texts(state)).toEqual(["Q1", "R1", "Q2", "R2"]);
    // A third version is added at the end, whichever version was shown when editing.
    state = run([{ type: "editMessage", conversationId: "c1", messageId: "u1", text: "Q1 third", assistantId: "a10", now: 11 }], state);
    const third = activeConversation(state)!.messages[0];
    expect(third.versionIndex).toBe(2);
    expect(third.versions!.map((v) => v.content)).toEqual(["Q1", "Q1 edited"]);
  });

  it("versions nest: a version keeps the versions of the turns after it", () => {
    let state = run([{ type: "regenerate", conversationId: "c1", messageId: "a2", now: 10 }, { type: "finish", messageId: "a2", finishReason: "stop" }], two());
    state = run([{ type: "editMessage", conversationId: "c1", messageId: "u1", text: "New", assistantId: "a9", now: 11 }, { type: "finish", messageId: "a9", finishReason: "stop" }], state);
    state = chatReducer(state, { type: "selectVersion", conversationId: "c1", messageId: "u1", index: 0 });
    expect(activeConversation(state)!.messages[3].versions).toHaveLength(1);
    // Plain JSON: what is stored (and synced) survives a round trip unchanged.
    const conversation = activeConversation(state)!;
    expect(JSON.parse(JSON.stringify(conversation))).toEqual(conversation);
  });

  it("nothing switches or branches while the chat's reply streams", () => {
    const streaming = run([{ type: "regenerate", conversationId: "c1", messageId: "a2", now: 10 }], two());
    expect(chatReducer(streaming, { type: "selectVersion", conversationId: "c1", messageId: "a2", index: 0 })).toBe(streaming);
    expect(chatReducer(streaming, { type: "editMessage", conversationId: "c1", messageId: "u1", text: "x", assistantId: "a9", now: 11 })).toBe(streaming);
    expect(chatReducer(streaming, { type: "regenerate", conversationId: "c1", messageId: "a1", now: 11 })).toBe(streaming);
  });
});

describe("titles", () => {
  const started = run([{ type: "send", conversationId: "c1", userId: "u1", assistantId: "a1", text: "[demo:tokens=5] **How** do I `grep` files recursively on Linux?", now: 1 }]);

  it("a new chat is titled from its first message, directives and markdown stripped, six words", () => {
    expect(activeConversation(started)).toMatchObject({ title: "How do I grep files recursively…", titleSource: "fallback" });
  });

  it("a generated title replaces the local one, but never one the user chose", () => {
    let state = chatReducer(started, { type: "setTitle", conversationId: "c1", title: "Recursive grep", source: "generated" });
    expect(activeConversation(state)).toMatchObject({ title: "Recursive grep", titleSource: "generated" });
    state = chatReducer(state, { type: "setTitle", conversationId: "c1", title: "  Mine  ", source: "user" });
    expect(activeConversation(state)).toMatchObject({ title: "Mine", titleSource: "user" });
    expect(chatReducer(state, { type: "setTitle", conversationId: "c1", title: "Later", source: "generated" })).toBe(state);
    expect(chatReducer(state, { type: "setTitle", conversationId: "c1", title: "   ", source: "user" })).toBe(state);
  });

  it("stored chats without a title source are treated as titled from their first message", () => {
    const { titleSource: _, ...old } = activeConversation(started)!;
    const state = chatReducer(initialState, { type: "hydrate", conversations: [old as never], activeId: "c1" });
    expect(activeConversation(state)!.titleSource).toBe("fallback");
  });
});
