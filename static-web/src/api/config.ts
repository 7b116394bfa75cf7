/**
 * Runtime configuration: the API base URL is read from /config.json when the page starts, so one
 * build can be deployed against any backend (the deploy hook writes the file; see README).
 * Absent, empty or invalid → the page's own origin (local runs, and the backend serving the page).
 */

export interface RuntimeConfig {
  /** Absolute origin + optional path prefix without trailing slash, or "" for same origin. */
  apiBaseUrl: string;
}

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

export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  try {
    const response = await fetchImpl("/config.json", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) return { apiBaseUrl: "" };
    // A host's SPA fallback may answer index.html with 200: only trust JSON.
    const type = response.headers.get("content-type") ?? "";
    if (!type.includes("json")) return { apiBaseUrl: "" };
    const json: unknown = await response.json();
    const base = typeof json === "object" && json !== null ? (json as Record<string, unknown>).apiBaseUrl : undefined;
    return { apiBaseUrl: normalizeApiBaseUrl(base) };
  } catch {
    return { apiBaseUrl: "" };
  }
}

export function chatStreamUrl(apiBaseUrl: string): string {
  return `${apiBaseUrl}/api/chat/stream`;
}
