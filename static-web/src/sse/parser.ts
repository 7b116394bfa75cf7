import { createParser } from "eventsource-parser";

/**
 * Server-Sent Events parsing for the fetch-based client, on top of `eventsource-parser` (the
 * maintained WHATWG "event stream interpretation" parser; CR/LF/CRLF, split CRLF, BOM, comments,
 * retry). This adapter adds what a byte stream and a resuming client need: streaming UTF-8 decoding
 * (a sequence split across network chunks is joined), the spec's `type` default ("message"), and a
 * last event id that persists across events, as `EventSource.lastEventId` does.
 *
 * `EventSource` itself only does GET (no body, no headers); the chat request is a POST.
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

export function createSseParser(handlers: SseParserHandlers): SseParser {
  // ignoreBOM keeps a BOM in the decoded text: the parser strips exactly one at stream start,
  // so a second BOM is not silently eaten by the decoder as well.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let lastEventId = "";
  const parser = createParser({
    // Called for every id field the spec accepts (an empty one resets, one with NULL is ignored).
    onId: (id) => {
      lastEventId = id;
    },
    onEvent: (message) => handlers.onEvent({ type: message.event || "message", data: message.data, lastEventId }),
    onRetry: handlers.onRetry,
    onComment: handlers.onComment,
  });
  return {
    feedBytes(bytes) {
      const text = decoder.decode(bytes, { stream: true });
      if (text) parser.feed(text);
    },
    feed(text) {
      parser.feed(text);
    },
    end() {
      const rest = decoder.decode();
      if (rest) parser.feed(rest);
      parser.reset();
    },
  };
}
