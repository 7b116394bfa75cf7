import { describe, expect, it } from "vitest";
import { authorizedFetch, SignInRequiredError } from "./auth";
import { normalizeAuth } from "./config";
import { sessionFrom, type MsalAccount, type MsalLike } from "./msalSession";

const config = { clientId: "spa-id", authority: "https://login.microsoftonline.com/tenant", scopes: ["api://api-id/chat"] };

/** A fake MSAL instance: one cached account (or none), silent token calls recorded. */
function fakeMsal(account: MsalAccount | null, { silentFails = false } = {}) {
  let active: MsalAccount | null = null;
  const calls: string[] = [];
  const msal: MsalLike = {
    handleRedirectPromise: async () => null,
    getAllAccounts: () => (account ? [account] : []),
    setActiveAccount: (a) => {
      active = a;
    },
    getActiveAccount: () => active,
    acquireTokenSilent: async ({ scopes, account: a, forceRefresh }) => {
      calls.push(`silent ${scopes.join(" ")} ${a.username} ${forceRefresh ? "force" : "cache"}`);
      if (silentFails) throw new Error("interaction_required");
      return { accessToken: forceRefresh ? "fresh" : "cached" };
    },
    acquireTokenRedirect: async () => void calls.push("acquireTokenRedirect"),
    loginRedirect: async ({ scopes }) => void calls.push(`loginRedirect ${scopes.join(" ")}`),
    logoutRedirect: async () => void calls.push("logoutRedirect"),
  };
  return { msal, calls };
}

describe("MSAL session", () => {
  it("uses the cached account and asks for the configured scopes silently", async () => {
    const { msal, calls } = fakeMsal({ name: "Ada", username: "ada@example.com" });
    const session = await sessionFrom(msal, config);
    expect(session.account).toEqual({ name: "Ada", username: "ada@example.com" });
    expect(await session.getToken()).toBe("cached");
    expect(await session.getToken({ forceRefresh: true })).toBe("fresh");
    expect(calls).toEqual(["silent api://api-id/chat ada@example.com cache", "silent api://api-id/chat ada@example.com force"]);
  });

  it("the token reaches the Authorization header of an API call", async () => {
    const { msal } = fakeMsal({ username: "ada@example.com" });
    const session = await sessionFrom(msal, config);
    const seen: (string | null)[] = [];
    const fetchImpl = (async (_url: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get("Authorization"));
      return new Response("{}", { status: 200 });
    }) as typeof fetch;
    await authorizedFetch(session, fetchImpl)("/api/chat/stream", { method: "POST", headers: { "Content-Type": "application/json" } });
    expect(seen).toEqual(["Bearer cached"]);
  });

  it("signed out: no token (SignInRequiredError), and Sign in redirects with the scopes", async () => {
    const { msal, calls } = fakeMsal(null);
    const session = await sessionFrom(msal, config);
    expect(session.account).toBeNull();
    await expect(session.getToken()).rejects.toBeInstanceOf(SignInRequiredError);
    await session.signIn();
    expect(calls).toEqual(["loginRedirect api://api-id/chat"]);
  });

  it("a silent failure (expired session) becomes SignInRequiredError; Sign in then re-acquires interactively", async () => {
    const { msal, calls } = fakeMsal({ username: "ada@example.com" }, { silentFails: true });
    const session = await sessionFrom(msal, config);
    await expect(session.getToken()).rejects.toBeInstanceOf(SignInRequiredError);
    await session.signIn();
    expect(calls.at(-1)).toBe("acquireTokenRedirect");
  });
});

describe("auth section of config.json", () => {
  it("accepts the contract's shape", () => {
    expect(normalizeAuth(config)).toEqual(config);
    expect(normalizeAuth(null)).toBeNull();
  });
  it.each([
    ["no clientId", { ...config, clientId: "" }],
    ["an http authority", { ...config, authority: "http://login.example.com/t" }],
    ["no scopes", { ...config, scopes: [] }],
    ["a non-string scope", { ...config, scopes: [1] }],
  ])("ignores a half-filled section: %s", (_name, value) => {
    expect(normalizeAuth(value)).toBeNull();
  });
});
