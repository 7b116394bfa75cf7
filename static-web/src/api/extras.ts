import { cleanGeneratedTitle, TITLE_REPLY_CHARS } from "../state/titles";

/** POST /api/chat/title: a short title for a chat from its first question and reply. */
export function titleUrl(apiBaseUrl: string): string {
  return `${apiBaseUrl}/api/chat/title`;
}

/** GET /api/health: anonymous, names the model that answers (before any reply has run). */
export function healthUrl(apiBaseUrl: string): string {
  return `${apiBaseUrl}/api/health`;
}

/**
 * Asks the title endpoint for a title (`fetchImpl` carries the same bearer token as chat requests).
 * Undefined on any failure (404 where no endpoint is deployed, a problem+json, a network error, a
 * body without a usable title): the caller keeps the local title.
 */
export async function requestTitle(
  apiBaseUrl: string,
  fetchImpl: typeof fetch,
  message: string,
  reply: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    const response = await fetchImpl(titleUrl(apiBaseUrl), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ message, reply: reply.slice(0, TITLE_REPLY_CHARS) }),
      signal,
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      return undefined;
    }
    const body: unknown = await response.json();
    return cleanGeneratedTitle((body as { title?: unknown } | null)?.title);
  } catch {
    return undefined;
  }
}

/** The model's name from /api/health, or undefined (then the page names the model of the last reply). */
export async function requestModelName(apiBaseUrl: string, fetchImpl: typeof fetch = fetch, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const response = await fetchImpl(healthUrl(apiBaseUrl), { headers: { Accept: "application/json" }, signal });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { model?: unknown; demo?: unknown } | null;
    const model = typeof body?.model === "string" ? body.model.trim() : "";
    if (!model) return undefined;
    return body?.demo === true ? "Demo model" : model;
  } catch {
    return undefined;
  }
}
