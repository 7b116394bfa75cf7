/**
 * Runtime configuration, read from /config.json when the page starts, so one build can be deployed
 * against any backend (the deploy hook writes the file; the standalone host serves its own).
 * Absent, empty or invalid → the page's own origin and no sign-in (local runs, the backend serving the page).
 */

/** Sign-in with Microsoft Entra ID: the SPA's app registration and the API scope to ask for. */
export interface AuthConfig {
  clientId: string;
  authority: string;
  scopes: string[];
}

export interface RuntimeConfig {
  /** Absolute origin + optional path prefix without trailing slash, or "" for same origin. */
  apiBaseUrl: string;
  /** null: anonymous (no sign-in, no Authorization header). */
  auth: AuthConfig | null;
}

const SAME_ORIGIN: RuntimeConfig = { apiBaseUrl: "", auth: null };

export function normalizeApiBaseUrl(value: unknown): string {
  if (typeof value !== "string") return "";
  const trimmed = value.trim();
  if (trimmed === "") return "";
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return "";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "";
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/** A usable auth section or null; a half-filled one is ignored rather than half-working. */
export function normalizeAuth(value: unknown): AuthConfig | null {
  if (typeof value !== "object" || value === null) return null;
  const { clientId, authority, scopes } = value as Record<string, unknown>;
  if (typeof clientId !== "string" || clientId.trim() === "") return null;
  if (typeof authority !== "string") return null;
  let url: URL;
  try {
    url = new URL(authority);
  } catch {
    return null;
  }
  // Tokens only over https (a local test authority on loopback may use http).
  if (url.protocol !== "https:" && !(url.protocol === "http:" && ["localhost", "127.0.0.1"].includes(url.hostname))) return null;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === "string" && s.trim() !== "")) return null;
  return { clientId: clientId.trim(), authority: authority.replace(/\/+$/, ""), scopes: scopes.map((s: string) => s.trim()) };
}

export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  try {
    const response = await fetchImpl("/config.json", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) return SAME_ORIGIN;
    // A host's SPA fallback may answer index.html with 200: only trust JSON.
    const type = response.headers.get("content-type") ?? "";
    if (!type.includes("json")) return SAME_ORIGIN;
    const json: unknown = await response.json();
    if (typeof json !== "object" || json === null) return SAME_ORIGIN;
    const record = json as Record<string, unknown>;
    return { apiBaseUrl: normalizeApiBaseUrl(record.apiBaseUrl), auth: normalizeAuth(record.auth) };
  } catch {
    return SAME_ORIGIN;
  }
}

export function chatStreamUrl(apiBaseUrl: string): string {
  return `${apiBaseUrl}/api/chat/stream`;
}

/** Resume (GET) and stop (DELETE) address of one stream. */
export function streamUrl(apiBaseUrl: string, streamId: string): string {
  return `${apiBaseUrl}/api/chat/streams/${encodeURIComponent(streamId)}`;
}
