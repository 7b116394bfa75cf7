import type { Conversation } from "./types";

/** The chat as Markdown: the versions shown, a heading per speaker (what "Copy as Markdown" and the .md export give). */
export function toMarkdown(conversation: Conversation): string {
  const parts = [`# ${conversation.title}`];
  for (const m of conversation.messages) {
    if (m.role === "assistant" && m.content.trim() === "") continue;
    parts.push(`## ${m.role === "user" ? "You" : "Assistant"}`, m.content.trim());
  }
  return parts.join("\n\n") + "\n";
}

/** The chat's stored record (every version included), as the JSON export; the model is described in docs/web.md. */
export function toJson(conversation: Conversation): string {
  return JSON.stringify({ format: "chatfunctions.conversation", version: 1, conversation }, null, 2) + "\n";
}

/** A file name from the title: letters, digits and dashes only. */
export function fileName(conversation: Conversation, extension: string): string {
  const base = conversation.title
    .normalize("NFKD")
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .toLowerCase();
  return `${base || "chat"}.${extension}`;
}

/** Starts a download of `text` (a blob URL on a temporary link; nothing leaves the browser). */
export function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.className = "offscreen";
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the click; the URL is no longer needed after this task.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
