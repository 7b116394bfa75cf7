import { describe, expect, it } from "vitest";
import { groupByDate, highlight, searchConversations } from "./chatList";
import type { Conversation, Message } from "./types";

const chat = (id: string, updatedAt: number, title = id, messages: Message[] = []): Conversation => ({
  id,
  title,
  titleSource: "fallback",
  createdAt: updatedAt,
  updatedAt,
  messages,
});
const at = (y: number, m: number, d: number, h = 12) => new Date(y, m - 1, d, h).getTime();

describe("groupByDate", () => {
  // A fixed clock: Wednesday 2026-12-09, 09:00 local time.
  const now = at(2026, 12, 9, 9);

  it("groups by local calendar day, then by month", () => {
    const groups = groupByDate(
      [
        chat("early-today", at(2026, 12, 9, 0)),
        chat("late-yesterday", at(2026, 12, 8, 23)),
        chat("two-days", at(2026, 12, 7)),
        chat("seven-days", at(2026, 12, 2)),
        chat("eight-days", at(2026, 12, 1)),
        chat("thirty-days", at(2026, 11, 9)),
        chat("october", at(2026, 10, 3)),
        chat("last-year", at(2025, 12, 20)),
      ],
      now,
      "en-US",
    );
    expect(groups.map((g) => [g.label, g.conversations.map((c) => c.id)])).toEqual([
      ["Today", ["early-today"]],
      ["Yesterday", ["late-yesterday"]],
      ["Previous 7 days", ["two-days", "seven-days"]],
      ["Previous 30 days", ["eight-days", "thirty-days"]],
      ["October", ["october"]],
      ["December 2025", ["last-year"]],
    ]);
  });

  it("orders by most recent update whatever the input order", () => {
    const groups = groupByDate([chat("older", at(2026, 12, 9, 1)), chat("newer", at(2026, 12, 9, 8))], now, "en-US");
    expect(groups[0].conversations.map((c) => c.id)).toEqual(["newer", "older"]);
  });

  it("a chat from the future (another device's clock) counts as today", () => {
    expect(groupByDate([chat("ahead", now + 3_600_000 * 20)], now, "en-US")[0].label).toBe("Today");
  });
});

describe("searchConversations", () => {
  const message = (content: string, extra: Partial<Message> = {}): Message => ({ id: content, role: "user", content, createdAt: 1, ...extra });
  const chats = [
    chat("a", 3, "Grep on Linux", [message("How do I search files?")]),
    chat("b", 2, "Café plans", [message("Where to meet **Zoë** for coffee")]),
    chat("c", 1, "Other", [message("New text", { versions: [{ role: "user", content: "an old kubernetes question", createdAt: 0, after: [] }], versionIndex: 1 })]),
  ];

  it("finds titles and message text, case- and accent-insensitively", () => {
    expect(searchConversations(chats, "GREP").map((h) => [h.conversation.id, h.inTitle])).toEqual([["a", true]]);
    expect(searchConversations(chats, "cafe").map((h) => h.conversation.id)).toEqual(["b"]);
    const hit = searchConversations(chats, "zoe coffee")[0];
    expect(hit).toMatchObject({ inTitle: false });
    expect(hit.excerpt).toContain("Zoë for coffee");
  });

  it("searches other versions too", () => {
    expect(searchConversations(chats, "kubernetes").map((h) => h.conversation.id)).toEqual(["c"]);
  });

  it("an empty query or one that matches nothing finds nothing", () => {
    expect(searchConversations(chats, "  ")).toEqual([]);
    expect(searchConversations(chats, "nowhere")).toEqual([]);
  });

  it("highlight marks every occurrence of each word", () => {
    expect(highlight("Grep and grep é", "grep e")).toEqual([
      { text: "Grep", match: true },
      { text: " and ", match: false },
      { text: "grep", match: true },
      { text: " ", match: false },
      { text: "é", match: true },
    ]);
  });
});
