import { describe, expect, it } from "vitest";
import { createSseParser, type SseEvent } from "./parser";

function collect() {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = createSseParser({
    onEvent: (e) => events.push(e),
    onRetry: (ms) => retries.push(ms),
    onComment: (c) => comments.push(c),
  });
  return { parser, events, retries, comments };
}

function parseText(...chunks: string[]) {
  const c = collect();
  for (const chunk of chunks) c.parser.feed(chunk);
  c.parser.end();
  return c;
}

function parseBytes(...chunks: Uint8Array[]) {
  const c = collect();
  for (const chunk of chunks) c.parser.feedBytes(chunk);
  c.parser.end();
  return c;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("SSE parser (WHATWG event stream interpretation)", () => {
  it("dispatches a simple data event with the default type", () => {
    const { events } = parseText("data: hello\n\n");
    expect(events).toEqual([{ type: "message", data: "hello", lastEventId: "" }]);
  });

  it.each([
    ["LF", "data: a\n\ndata: b\n\n"],
    ["CR", "data: a\r\rdata: b\r\r"],
    ["CRLF", "data: a\r\n\r\ndata: b\r\n\r\n"],
    ["mixed", "data: a\r\n\ndata: b\r\r\n"],
  ])("accepts %s line endings", (_name, stream) => {
    const { events } = parseText(stream);
    expect(events.map((e) => e.data)).toEqual(["a", "b"]);
  });

  it("treats CR at a chunk boundary followed by LF in the next chunk as one line end", () => {
    // If the LF were taken as a second line end, it would be an empty line and dispatch early.
    const { events } = parseText("data: a\r", "\ndata: b\r\n\r\n");
    expect(events).toHaveLength(1);
    expect(events[0].data).toBe("a\nb");
  });

  it("treats a lone CR at a chunk boundary as a line end when the next chunk starts with text", () => {
    const { events } = parseText("data: a\r", "data: b\r\r");
    expect(events.map((e) => e.data)).toEqual(["a\nb"]);
  });

  it("joins multi-line data with LF and removes the final LF", () => {
    const { events } = parseText("data: line 1\ndata: line 2\ndata:\n\n");
    expect(events[0].data).toBe("line 1\nline 2\n");
  });

  it("ignores comment lines and reports them", () => {
    const { events, comments } = parseText(": keep-alive\ndata: x\n: another\n\n");
    expect(events.map((e) => e.data)).toEqual(["x"]);
    // The spec ignores comments; eventsource-parser reports them with one leading space removed, like field values.
    expect(comments).toEqual(["keep-alive", "another"]);
  });

  it("a heartbeat comment alone dispatches nothing", () => {
    const { events } = parseText(": keep-alive\n\n");
    expect(events).toEqual([]);
  });

  it("strips exactly one leading space from the value", () => {
    const { events } = parseText("data:  two spaces\n\ndata:none\n\n");
    expect(events.map((e) => e.data)).toEqual([" two spaces", "none"]);
  });

  it("treats a line without a colon as a field name with an empty value", () => {
    // "data" alone appends an empty line to the data buffer: two of them give "\n".
    const { events } = parseText("data\ndata\n\n");
    expect(events).toHaveLength(1);
    expect(events[0].data).toBe("\n");
  });

  it("does not dispatch when the data buffer is empty", () => {
    const { events } = parseText("event: ping\n\ndata: after\n\n");
    expect(events).toEqual([{ type: "message", data: "after", lastEventId: "" }]);
  });

  it("sets the event type from the event field and resets it after dispatch", () => {
    const { events } = parseText("event: add\ndata: 1\n\ndata: 2\n\n");
    expect(events.map((e) => e.type)).toEqual(["add", "message"]);
  });

  it("keeps the last event id across events, and an empty id resets it", () => {
    const { events } = parseText("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
    expect(events.map((e) => e.lastEventId)).toEqual(["1", "1", ""]);
  });

  it("ignores an id containing NULL", () => {
    const { events } = parseText("id: 7\ndata: a\n\nid: 8\0x\ndata: b\n\n");
    expect(events.map((e) => e.lastEventId)).toEqual(["7", "7"]);
  });

  it("reports retry only when the value is all ASCII digits", () => {
    const { retries } = parseText("retry: 3000\nretry: 12a\nretry: -1\nretry:  5\nretry\n\n");
    expect(retries).toEqual([3000]);
  });

  it("ignores unknown fields", () => {
    const { events } = parseText("foo: bar\ndata: x\n\n");
    expect(events.map((e) => e.data)).toEqual(["x"]);
  });

  it("does not treat a colon inside the value as a separator", () => {
    const { events } = parseText('data: {"a":"b: c"}\n\n');
    expect(events[0].data).toBe('{"a":"b: c"}');
  });

  it("strips one BOM at stream start only", () => {
    const { events } = parseText("\uFEFFdata: a\n\n", "\uFEFFdata: b\n\n");
    // The second BOM is not at stream start: it is part of a field name "\uFEFFdata", which is unknown.
    expect(events.map((e) => e.data)).toEqual(["a"]);
  });

  it("strips a BOM given as bytes, even split across chunks", () => {
    const bytes = utf8("\uFEFFdata: a\n\n");
    const { events } = parseBytes(bytes.slice(0, 2), bytes.slice(2));
    expect(events.map((e) => e.data)).toEqual(["a"]);
  });

  it("strips only one of two BOMs at stream start", () => {
    const { events } = parseBytes(utf8("\uFEFF\uFEFFdata: a\n\ndata: b\n\n"));
    expect(events.map((e) => e.data)).toEqual(["b"]);
  });

  it("joins a UTF-8 sequence split across chunks", () => {
    const bytes = utf8('data: {"chunk":"안녕 👋"}\n\n');
    // Split every byte: multi-byte sequences are cut in every possible place.
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    const { events } = parseBytes(...chunks);
    expect(JSON.parse(events[0].data)).toEqual({ chunk: "안녕 👋" });
  });

  it("handles a stream cut into one-character text chunks", () => {
    const stream = "id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\r: c\ndata: c\n\n";
    const { events } = parseText(...stream.split(""));
    expect(events.map((e) => [e.lastEventId, e.data])).toEqual([
      ["1", "a"],
      ["2", "b"],
      ["2", "c"],
    ]);
  });

  it("discards an event that is not terminated by a blank line at end of stream", () => {
    const { events } = parseText("data: complete\n\ndata: partial\n");
    expect(events.map((e) => e.data)).toEqual(["complete"]);
  });

  it("dispatches events as soon as their blank line arrives, before end()", () => {
    const c = collect();
    c.parser.feed("data: first\n");
    expect(c.events).toHaveLength(0);
    c.parser.feed("\n");
    expect(c.events).toHaveLength(1);
  });

  it("parses the backend's frame layout", () => {
    const stream =
      'id: 1\ndata: {"meta":{"requestId":"r","provider":"demo","model":"demo"}}\n\n' +
      'id: 2\ndata: {"chunk":"Hi"}\n\n' +
      ": keep-alive\n\n" +
      'id: 3\ndata: {"done":true,"finishReason":"stop"}\n\n';
    const { events } = parseText(stream);
    expect(events.map((e) => JSON.parse(e.data))).toEqual([
      { meta: { requestId: "r", provider: "demo", model: "demo" } },
      { chunk: "Hi" },
      { done: true, finishReason: "stop" },
    ]);
    expect(events.map((e) => e.lastEventId)).toEqual(["1", "2", "3"]);
  });
});
