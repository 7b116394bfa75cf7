// Applies the saved theme before the first paint (a classic script in <head>, allowed by script-src 'self'),
// so a page set to dark never flashes light. The same key and values as src/theme.ts.
(function () {
  try {
    var theme = localStorage.getItem("chatfunctions.theme");
    if (theme === "light" || theme === "dark") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) {
    // Storage blocked: the system theme applies.
  }
})();
