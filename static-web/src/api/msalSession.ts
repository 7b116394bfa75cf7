import { SignInRequiredError, type TokenSource } from "./auth";
import type { AuthConfig } from "./config";

/**
 * Sign-in with Microsoft Entra ID through MSAL (redirect flow: no popup to be blocked, and the
 * conversations are in IndexedDB, so leaving the page for the sign-in loses nothing). This module
 * is only imported when config.json has `auth`; MSAL itself is loaded lazily from here.
 */

export interface SignedInAccount {
  name: string;
  username: string;
}

export interface AuthSession extends TokenSource {
  /** null: not signed in (the page shows Sign in and sends nothing). */
  readonly account: SignedInAccount | null;
  signIn(): Promise<void>;
  signOut(): Promise<void>;
}

/** The part of MSAL's PublicClientApplication used here (a test passes a fake). */
export interface MsalLike {
  handleRedirectPromise(): Promise<{ account: MsalAccount | null } | null>;
  getAllAccounts(): MsalAccount[];
  setActiveAccount(account: MsalAccount | null): void;
  getActiveAccount(): MsalAccount | null;
  acquireTokenSilent(request: { scopes: string[]; account: MsalAccount; forceRefresh?: boolean }): Promise<{ accessToken: string }>;
  acquireTokenRedirect(request: { scopes: string[]; account?: MsalAccount }): Promise<void>;
  loginRedirect(request: { scopes: string[] }): Promise<void>;
  logoutRedirect(request?: { account?: MsalAccount | null }): Promise<void>;
}

export interface MsalAccount {
  name?: string;
  username: string;
}

export async function createAuthSession(config: AuthConfig): Promise<AuthSession> {
  const { createStandardPublicClientApplication } = await import("@azure/msal-browser");
  const msal = await createStandardPublicClientApplication({
    auth: { clientId: config.clientId, authority: config.authority, redirectUri: window.location.origin + "/" },
    // sessionStorage: tokens do not outlive the tab (and are not shared between tabs of other users of the machine).
    cache: { cacheLocation: "sessionStorage" },
  });
  return sessionFrom(msal as unknown as MsalLike, config);
}

export async function sessionFrom(msal: MsalLike, config: AuthConfig): Promise<AuthSession> {
  // Completes a sign-in that redirected back here (and clears the URL's auth response).
  const result = await msal.handleRedirectPromise();
  const account = result?.account ?? msal.getActiveAccount() ?? msal.getAllAccounts()[0] ?? null;
  if (account) msal.setActiveAccount(account);
  const scopes = config.scopes;

  return {
    account: account ? { name: account.name || account.username, username: account.username } : null,
    async getToken(options) {
      const active = msal.getActiveAccount();
      if (!active) throw new SignInRequiredError("Sign in to continue.");
      try {
        const { accessToken } = await msal.acquireTokenSilent({ scopes, account: active, forceRefresh: options?.forceRefresh });
        return accessToken;
      } catch {
        // Expired session, consent needed, revoked: only the user can fix it (Sign in).
        throw new SignInRequiredError("Your sign-in has expired. Sign in again to continue.");
      }
    },
    async signIn() {
      const active = msal.getActiveAccount();
      await (active ? msal.acquireTokenRedirect({ scopes, account: active }) : msal.loginRedirect({ scopes }));
    },
    async signOut() {
      await msal.logoutRedirect({ account: msal.getActiveAccount() });
    },
  };
}
