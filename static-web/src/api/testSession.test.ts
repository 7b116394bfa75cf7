import { describe, expect, it } from "vitest";
import { injectedSession } from "./testSession";

describe("injectedSession", () => {
  it("is null when no test put a session on the window (every production page)", () => {
    expect(injectedSession({})).toBeNull();
  });

  it("is null for a malformed session rather than a half-working one", () => {
    expect(injectedSession({ __chatFunctionsTestSession: { token: 42, account: { name: "x", username: "x" } } as never })).toBeNull();
    expect(injectedSession({ __chatFunctionsTestSession: { token: "t" } as never })).toBeNull();
  });

  it("hands out the injected token and account", async () => {
    const session = injectedSession({ __chatFunctionsTestSession: { token: "header.payload.sig", account: { name: "", username: "u@example.test" } } });
    expect(session!.account).toEqual({ name: "u@example.test", username: "u@example.test" });
    expect(await session!.getToken()).toBe("header.payload.sig");
    expect(await session!.getToken({ forceRefresh: true })).toBe("header.payload.sig");
  });
});
