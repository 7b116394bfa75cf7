import { describe, expect, it } from "vitest";
import { fileName, toJson, toMarkdown } from "./exportChat";
import type { Conversation } from "./types";

const conversation: Conversation = {
  id: "c1",
  title: "Grep: recursive / fast?",
  titleSource: "user",
  createdAt: 1,
  updatedAt: 2,
  messages: [
    { id: "u1", role: "user", content: "How do I grep?", createdAt: 1, versions: [{ role: "user", content: "old", createdAt: 0, after: [] }], versionIndex: 1 },
    { id: "a1", role: "assistant", content: "Use `grep -r`.\n", createdAt: 1, status: "done" },
    { id: "u2", role: "user", content: "Thanks", createdAt: 2 },
    { id: "a2", role: "assistant", content: "", createdAt: 2, status: "stopped" },
  ],
};

describe("export", () => {
  it("Markdown has the title and the shown turns, without empty replies", () => {
    expect(toMarkdown(conversation)).toBe("# Grep: recursive / fast?\n\n## You\n\nHow do I grep?\n\n## Assistant\n\nUse `grep -r`.\n\n## You\n\nThanks\n");
  });

  it("JSON is the whole record, versions included, in a labelled envelope", () => {
    const parsed = JSON.parse(toJson(conversation));
    expect(parsed).toEqual({ format: "chatfunctions.conversation", version: 1, conversation });
  });

  it("file names are safe", () => {
    expect(fileName(conversation, "md")).toBe("grep-recursive-fast.md");
    expect(fileName({ ...conversation, title: "../../" }, "json")).toBe("chat.json");
  });
});
