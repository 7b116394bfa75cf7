/**
 * A Server-Sent Events parser that follows the WHATWG HTML "event stream interpretation"
 * rules (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 *
 * We need our own because `EventSource` only does GET (no body, ~2 KB URL limit), and the
 * chat request carries the conversation history in a POST body.
 *
 * Bytes go in through `feedBytes` (decoded with a streaming TextDecoder, so a UTF-8 sequence
 * split across network chunks is joined correctly) or text through `feed`. Events come out
 * through `onEvent` as soon as their terminating blank line has been seen.
 */

export interface SseEvent {
  /** The `event:` field, or "message" when the event had none. */
  type: string;
  /** The `data:` lines joined with "\n" (the final newline removed). */
  data: string;
  /** The last `id:` seen on the stream so far (it persists across events, per spec). */
  lastEventId: string;
}

export interface SseParserHandlers {
  onEvent: (event: SseEvent) => void;
  /** A `retry:` field with a valid integer: the server's suggested reconnection delay in ms. */
  onRetry?: (delayMs: number) => void;
  /** A comment line (starts with ":"), without the colon; used for heartbeats. */
  onComment?: (text: string) => void;
}

export interface SseParser {
  feedBytes(bytes: Uint8Array): void;
  feed(text: string): void;
  /** End of stream: flushes the decoder; an event not terminated by a blank line is discarded (per spec). */
  end(): void;
}

const LF = 0x0a; // "\n"
const CR = 0x0d; // "\r"
const BOM = "\uFEFF";

export function createSseParser(handlers: SseParserHandlers): SseParser {
  // ignoreBOM: true keeps a BOM in the decoded text so that exactly one leading BOM is
  // stripped below, whether the caller feeds bytes or text.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let atStreamStart = true;
  let pendingLine = "";
  // A CR ends a line, but if the next character is LF it belongs to the same line end.
  // The LF can arrive in the next chunk, so remember that the last character was a CR.
  let lastWasCR = false;

  let dataBuffer = "";
  let eventType = "";
  let lastEventIdBuffer = "";

  function dispatch(): void {
    const lastEventId = lastEventIdBuffer;
    if (dataBuffer === "") {
      eventType = "";
      return;
    }
    const data = dataBuffer.endsWith("\n") ? dataBuffer.slice(0, -1) : dataBuffer;
    const type = eventType === "" ? "message" : eventType;
    dataBuffer = "";
    eventType = "";
    handlers.onEvent({ type, data, lastEventId });
  }

  function processField(field: string, value: string): void {
    switch (field) {
      case "event":
        eventType = value;
        break;
      case "data":
        dataBuffer += value + "\n";
        break;
      case "id":
        // An id containing NULL is ignored so a stray byte cannot poison Last-Event-ID.
        if (!value.includes("\0")) lastEventIdBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) handlers.onRetry?.(parseInt(value, 10));
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
  }

  function processLine(line: string): void {
    if (line === "") {
      dispatch();
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* ":" */) {
      handlers.onComment?.(line.slice(1));
      return;
    }
    const colon = line.indexOf(":");
    if (colon === -1) {
      processField(line, "");
      return;
    }
    let value = line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20 /* " " */) value = value.slice(1);
    processField(line.slice(0, colon), value);
  }

  function feed(text: string): void {
    if (text === "") return;
    if (atStreamStart) {
      atStreamStart = false;
      if (text.startsWith(BOM)) text = text.slice(1);
      if (text === "") return;
    }
    let start = 0;
    if (lastWasCR && text.charCodeAt(0) === LF) start = 1;
    lastWasCR = false;

    const length = text.length;
    let i = start;
    while (i < length) {
      // Scan to the next CR or LF with indexOf (fast on long data lines) rather than per char.
      const nextLF = text.indexOf("\n", i);
      const nextCR = text.indexOf("\r", i);
      let end: number;
      if (nextLF === -1 && nextCR === -1) break;
      else if (nextLF === -1) end = nextCR;
      else if (nextCR === -1) end = nextLF;
      else end = Math.min(nextLF, nextCR);

      const line = pendingLine + text.slice(start, end);
      pendingLine = "";
      let next = end + 1;
      if (text.charCodeAt(end) === CR) {
        if (next < length) {
          if (text.charCodeAt(next) === LF) next++;
        } else {
          lastWasCR = true;
        }
      }
      processLine(line);
      start = next;
      i = next;
    }
    if (start < length) pendingLine += text.slice(start);
  }

  return {
    feedBytes(bytes: Uint8Array): void {
      feed(decoder.decode(bytes, { stream: true }));
    },
    feed,
    end(): void {
      feed(decoder.decode());
      // Per spec, a trailing incomplete event is discarded: reset without dispatching.
      pendingLine = "";
      dataBuffer = "";
      eventType = "";
    },
  };
}
