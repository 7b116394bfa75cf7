import { describe, expect, it } from "vitest";
import { displayedRate } from "./ReplyMetrics";

describe("tokens per second shown", () => {
  it("is the attempt's own: tokens over the time its text took to arrive here", () => {
    expect(displayedRate({ outputTokens: 100, clientStreamMs: 4000, serverTokensPerSecond: 28 })).toBe(25);
  });

  it("after a resume, is the server's: the time here includes the time without a connection", () => {
    expect(displayedRate({ outputTokens: 100, serverTokensPerSecond: 28 })).toBe(28);
  });

  it("is not shown for a reply too short or too quick to have a rate", () => {
    expect(displayedRate({ outputTokens: 3, clientStreamMs: 4000 })).toBeUndefined();
    expect(displayedRate({ outputTokens: 100, clientStreamMs: 100 })).toBeUndefined();
    expect(displayedRate({ outputTokens: 3, serverTokensPerSecond: 28 })).toBeUndefined();
  });
});
