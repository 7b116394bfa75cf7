/**
 * Bearer tokens for the API. The page talks to a TokenSource; the MSAL-backed one is in
 * msalSession.ts and is loaded only when config.json asks for sign-in, so anonymous deployments do
 * not download MSAL.
 */

export interface TokenSource {
  /** An access token for the API scopes; forceRefresh skips the cache (after a 401). */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

/** No token without user interaction: the page must show its Sign in control. */
export class SignInRequiredError extends Error {
  constructor(message = "Sign in to continue.") {
    super(message);
    this.name = "SignInRequiredError";
  }
}

/**
 * fetch that sends `Authorization: Bearer <token>` on every call. A 401 gets one more try with a
 * freshly acquired token (the cached one may have been revoked or expired early); a second 401 is
 * returned to the caller, which asks the user to sign in again.
 */
export function authorizedFetch(tokens: TokenSource | null, fetchImpl: typeof fetch = fetch): typeof fetch {
  if (!tokens) return fetchImpl;
  const withToken = (init: RequestInit | undefined, token: string): RequestInit => {
    const headers = new Headers(init?.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return { ...init, headers };
  };
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await fetchImpl(input, withToken(init, await tokens.getToken()));
    if (response.status !== 401 || init?.signal?.aborted) return response;
    await response.body?.cancel().catch(() => {});
    return fetchImpl(input, withToken(init, await tokens.getToken({ forceRefresh: true })));
  }) as typeof fetch;
}
