/** System / light / dark. Saved in localStorage (read synchronously by public/theme.js before the first paint). */
export type Theme = "system" | "light" | "dark";

export const THEME_KEY = "chatfunctions.theme";

export function readTheme(): Theme {
  try {
    const saved = localStorage.getItem(THEME_KEY);
    return saved === "light" || saved === "dark" ? saved : "system";
  } catch {
    return "system";
  }
}

export function applyTheme(theme: Theme): void {
  if (theme === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", theme);
  try {
    if (theme === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Not saved (storage blocked): the choice holds for this visit.
  }
}
