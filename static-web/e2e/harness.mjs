// Shared setup for the browser tests: starts the real backend (the ChatFunctions dll, serving
// static-web/dist at / and the API at /api on one origin) and a headless Debian Chromium.
// Nothing is downloaded: the browser is the system's, driven by playwright-core.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { defaultPaths, renderSwaConfig } from "../scripts/runtime-config.mjs";
import { startProxy } from "./proxy.mjs";

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = resolve(webDir, "..");
export const distDir = join(webDir, "dist");
export const artifactsDir = join(repoRoot, "test-artifacts");
export const screenshotsDir = join(artifactsDir, "screenshots");

const dllPath = resolve(repoRoot, process.env.CHATFUNCTIONS_DLL ?? "ChatFunctions/bin/Release/net10.0/ChatFunctions.dll");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Fails loudly (never skips) when a prerequisite is missing. */
function requireFile(path, hint) {
  if (!existsSync(path)) throw new Error(`Missing ${path}\n${hint}`);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `dotnet ChatFunctions.dll` on a free loopback port (or `port`, to restart one on the address a
 * page already uses) with the demo model. `kill()` ends it the way a crash does (SIGKILL, no shutdown).
 * @returns {Promise<{ baseUrl: string, stop: () => Promise<void>, kill: () => Promise<void> }>}
 */
export async function startBackend({ tokenDelayMs, env = {}, port: wantedPort }) {
  // Browser test files run side by side: between freePort() closing its probe and the backend binding, another
  // file's backend may take the same port. A port of our own choosing is then chosen again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBackendOnce({ tokenDelayMs, env, wantedPort });
    } catch (error) {
      if (wantedPort !== undefined || attempt >= 3 || !/address already in use/i.test(error.message)) throw error;
    }
  }
}

async function startBackendOnce({ tokenDelayMs, env, wantedPort }) {
  requireFile(dllPath, "Build the backend first: dotnet build -c Release ChatFunctions/ChatFunctions.csproj (or set CHATFUNCTIONS_DLL).");
  requireFile(join(distDir, "index.html"), "Build the page first: npm run build (npm run test:e2e does this).");

  const port = wantedPort ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn("dotnet", [dllPath, "--urls", baseUrl], {
    cwd: repoRoot,
    env: {
      ...process.env,
      CHAT_WEB_ROOT: distDir,
      CHAT_PROVIDER: "Demo",
      DEMO_TOKEN_DELAY_MS: String(tokenDelayMs),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (data) => {
    output = (output + data.toString()).slice(-8000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  const exitPromise = new Promise((r) => child.on("exit", (code, signal) => r((exited = { code, signal }))));

  const stop = async () => {
    if (exited) return;
    child.kill("SIGTERM");
    const timeout = sleep(5000).then(() => "timeout");
    if ((await Promise.race([exitPromise, timeout])) === "timeout") {
      child.kill("SIGKILL");
      await exitPromise;
    }
  };

  const kill = async () => {
    if (exited) return;
    child.kill("SIGKILL");
    await exitPromise;
  };

  const deadline = Date.now() + 60_000;
  while (true) {
    if (exited) throw new Error(`The backend exited (${JSON.stringify(exited)}) before it was healthy:\n${output}`);
    try {
      const response = await fetch(`${baseUrl}/api/health`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`The backend did not answer GET /api/health with 200 within 60 s:\n${output}`);
    }
    await sleep(200);
  }
  return { baseUrl, stop, kill, output: () => output };
}

/**
 * Headless Debian Chromium. Playwright starts it with a fresh temporary --user-data-dir of its own;
 * each test then gets its own context (own localStorage). The flags keep it off the (closed) network.
 */
export async function launchBrowser() {
  requireFile(chromiumPath, "Install Chromium: apt-get install -y chromium (or set CHROMIUM_PATH).");
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** The CSP that a same-origin deployment sends (the template's clean rendering, as the build writes it into dist/). */
export function deployedCsp() {
  const config = renderSwaConfig(JSON.parse(readFileSync(defaultPaths.template, "utf8")), null);
  return config.globalHeaders["Content-Security-Policy"];
}

/**
 * A fresh page whose document carries the deployed CSP (the backend does not send it), with CSP
 * violations, page errors and dialogs recorded so a test can assert there were none.
 */
export async function openChat(context, baseUrl, { query = "", config } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on("console", (msg) => {
    // /config.json is absent on same-origin runs by design, and /api/chat/title where no title endpoint is
    // deployed (the page then keeps its local title): their 404s are expected.
    const url = msg.location().url;
    if (msg.type() === "error" && !url.endsWith("/config.json") && !url.endsWith("/api/chat/title")) problems.push(`console: ${msg.text()}`);
  });
  const csp = deployedCsp();
  // A runtime config of the test's choosing (as the deploy hook or the standalone host would serve it).
  if (config) {
    await page.route(`${baseUrl}/config.json`, (route) =>
      route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(config) }),
    );
  }
  // Only the HTML document is intercepted: routing the SSE request would buffer the stream.
  await page.route((url) => url.origin === baseUrl && (url.pathname === "/" || url.pathname === "/index.html"), async (route) => {
    const response = await fetchDocument(route);
    await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": csp } });
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  await page.goto(`${baseUrl}/${query}`);
  await page.waitForSelector("#composer-input");
  return { page, problems };
}

/**
 * The intercepted document, fetched by the test. A GET that meets a reset on a reused keep-alive connection is sent
 * once more, as a browser does; route.fetch itself does not, and an unhandled failure here leaves the navigation waiting.
 */
async function fetchDocument(route) {
  try {
    return await route.fetch();
  } catch (error) {
    if (!/ECONNRESET|socket hang up/.test(String(error))) throw error;
    return route.fetch();
  }
}

/**
 * axe-core in the page (evaluated through the DevTools protocol, so the page's CSP does not apply):
 * returns the violations of impact serious or critical.
 */
export async function seriousA11yViolations(page, context = "document") {
  const source = readFileSync(join(webDir, "node_modules", "axe-core", "axe.min.js"), "utf8");
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(source);
  const violations = await page.evaluate(async (selector) => {
    const result = await window.axe.run(selector === "document" ? document : document.querySelector(selector), {
      resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  }, context);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations);
}

export async function sendMessage(page, text) {
  await page.fill("#composer-input", text);
  await page.press("#composer-input", "Enter");
}

/** A count in the statistics panel (folded away by default, so read as text, not as what is rendered). */
export const stat = (page, name) => page.locator(`[data-stat="${name}"]`).evaluate((el) => el.textContent);

export const lastReply = (page) => page.locator("article.message.assistant").last();

/** Two frames drawn and the tasks queued before them run: what the page had to do in answer to what came before. */
export const settled = (page) =>
  page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 0)))));

/** Until the element's running animations and transitions (its own and its descendants') have finished. */
export const animationsDone = (locator) =>
  locator.evaluate((el) => Promise.all(el.getAnimations({ subtree: true }).map((animation) => animation.finished)));

/** Waits until the last reply leaves the streaming state; returns its final status. */
export async function waitForReplyEnd(page, timeout = 60_000) {
  await page.waitForFunction(
    () => {
      const replies = document.querySelectorAll("article.message.assistant");
      const last = replies[replies.length - 1];
      return last && last.getAttribute("data-status") !== "streaming";
    },
    null,
    { timeout, polling: 50 },
  );
  return lastReply(page).getAttribute("data-status");
}

export function ensureDir(dir) {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The backend (demo model at `tokenDelayMs` per token), the cutting proxy in front of it (proxy.mjs) and a browser,
 * for a test file's `before`; `newContext()` opens a desktop context that `stop()` closes with the rest.
 */
export async function startStack({ tokenDelayMs }) {
  // The backend's start (a .NET process until it answers /api/health) and the browser's are independent: side by side.
  const [backend, browser] = await Promise.all([startBackend({ tokenDelayMs }), launchBrowser()]);
  const proxy = await startProxy(backend.baseUrl);
  const contexts = [];
  return {
    backend,
    proxy,
    browser,
    async newContext() {
      const context = await browser.newContext({ viewport: DESKTOP });
      contexts.push(context);
      return context;
    },
    async stop() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      await proxy.stop();
      await backend.stop();
    },
  };
}
