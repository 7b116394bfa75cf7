import type { AuthSession } from "./msalSession";

/**
 * The browser tests' way in (e2e/authority.mjs, signInAs): a signed-in session put on `window` by
 * Playwright before any of the page's scripts run, used instead of MSAL only when present and only
 * when config.json asks for sign-in. It grants nothing: the token still has to pass the API's checks
 * (signature by the configured tenant's published keys, issuer, audience, scope), and a script that
 * could set this hook already runs in the page and could call the API itself. Production never sets it.
 */
export interface InjectedSession {
  account: { name: string; username: string };
  token: string;
}

declare global {
  interface Window {
    __chatFunctionsTestSession?: InjectedSession;
  }
}

/** The injected session as an AuthSession, or null when none (or a malformed one) is present. */
export function injectedSession(target: Pick<Window, "__chatFunctionsTestSession">): AuthSession | null {
  const injected = target.__chatFunctionsTestSession;
  if (!injected || typeof injected.token !== "string" || typeof injected.account?.username !== "string") return null;
  const account = { name: String(injected.account.name || injected.account.username), username: injected.account.username };
  return {
    account,
    getToken: async () => injected.token,
    signIn: async () => {},
    signOut: async () => {},
  };
}
