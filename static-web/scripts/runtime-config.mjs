// The page's deploy-time configuration: config.json and the Static Web Apps config (CSP) for one deployment,
// written into the build output. Called by write-runtime-config.mjs; imported by its tests.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const defaultPaths = {
  template: join(webDir, "staticwebapp.config.template.json"),
  outDir: join(webDir, "dist"),
};

export const defaultLoginInstance = "https://login.microsoftonline.com/";

/** The origin to allow in connect-src; https only, except plain http on loopback for local tests. */
export function apiOriginOf(apiBaseUrl, name = "API_BASE_URL") {
  let url;
  try {
    url = new URL(apiBaseUrl);
  } catch {
    throw new Error(`${name} is not an absolute URL: "${apiBaseUrl}"`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`${name} must use https (http only for localhost): "${apiBaseUrl}"`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`${name} must not contain credentials, a query or a fragment: "${apiBaseUrl}"`);
  }
  return url.origin;
}

/** The base URL the page will use: origin plus optional path prefix, no trailing slash. */
export function normalizeApiBaseUrl(apiBaseUrl) {
  const url = new URL(apiBaseUrl);
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The `auth` member of config.json from the azd environment: null when sign-in is off. */
export function authConfigOf(env) {
  const enabled = (env.AZURE_AUTH_ENABLED ?? "").trim().toLowerCase();
  if (enabled === "" || enabled === "false") return null;
  if (enabled !== "true") throw new Error(`AZURE_AUTH_ENABLED must be true or false: "${env.AZURE_AUTH_ENABLED}"`);
  const required = (name) => {
    const value = (env[name] ?? "").trim();
    if (!guid.test(value)) {
      throw new Error(`${name} must be a GUID when AZURE_AUTH_ENABLED=true (the preprovision hook sets it): "${value}"`);
    }
    return value;
  };
  const tenantId = required("AZURE_AUTH_TENANT_ID");
  const clientId = required("AZURE_AUTH_SPA_CLIENT_ID");
  const apiClientId = required("AZURE_AUTH_API_CLIENT_ID");
  const instance = (env.AZURE_AUTH_INSTANCE ?? "").trim() || defaultLoginInstance;
  apiOriginOf(instance, "AZURE_AUTH_INSTANCE");
  return {
    clientId,
    authority: new URL(tenantId, instance.endsWith("/") ? instance : instance + "/").href,
    scopes: [`api://${apiClientId}/chat`],
  };
}

/** Returns the Static Web Apps config with extra origins added to connect-src (and frame-src for sign-in). */
export function renderSwaConfig(template, apiOrigin, loginOrigin = null) {
  const config = structuredClone(template);
  const csp = config.globalHeaders?.["Content-Security-Policy"];
  if (typeof csp !== "string" || !/(^|;)\s*connect-src\s/.test(csp)) {
    throw new Error("The template's Content-Security-Policy has no connect-src directive.");
  }
  const connect = [apiOrigin, loginOrigin].filter(Boolean);
  let directives = csp.split(";").map((d) => d.trim()).filter(Boolean)
    .map((d) => (d.startsWith("connect-src ") && connect.length ? `${d} ${connect.join(" ")}` : d));
  if (loginOrigin) {
    // msal-browser renews tokens silently in a hidden iframe when its refresh token is gone.
    directives = directives.filter((d) => !d.startsWith("frame-src "));
    directives.splice(directives.findIndex((d) => d.startsWith("connect-src ")) + 1, 0, `frame-src ${loginOrigin}`);
  }
  config.globalHeaders["Content-Security-Policy"] = directives.join("; ");
  return config;
}

const json = (value) => JSON.stringify(value, null, 2) + "\n";

/**
 * Writes config.json and staticwebapp.config.json into outDir, which must already hold a built page: run after the
 * build (Vite empties dist/ when it starts). Throws, writing nothing, on any bad input.
 */
export function writeRuntimeConfig({ apiBaseUrl, auth = null }, paths = defaultPaths) {
  if (!existsSync(join(paths.outDir, "index.html"))) {
    throw new Error(`${paths.outDir} holds no built page (index.html): run after \`npm run build\`.`);
  }
  const template = JSON.parse(readFileSync(paths.template, "utf8"));
  const apiOrigin = apiBaseUrl ? apiOriginOf(apiBaseUrl) : null;
  const loginOrigin = auth ? new URL(auth.authority).origin : null;
  const swa = renderSwaConfig(template, apiOrigin, loginOrigin);
  const config = { apiBaseUrl: apiBaseUrl ? normalizeApiBaseUrl(apiBaseUrl) : "", auth };
  writeFileSync(join(paths.outDir, "staticwebapp.config.json"), json(swa));
  writeFileSync(join(paths.outDir, "config.json"), json(config));
  return { config, csp: swa.globalHeaders["Content-Security-Policy"] };
}

/**
 * Puts the build output in its local, deployment-free state: no config.json, and staticwebapp.config.json as the
 * template's clean rendering (CSP connect-src 'self'). The build ends with it, so every build output holds exactly one
 * staticwebapp.config.json and none is kept under public/ where the SWA CLI would find a second one; the postdeploy
 * hook runs it again so a local run serving dist/ after a deploy never calls the deployed API. Needs a built page.
 */
export function cleanRuntimeConfig(paths = defaultPaths) {
  if (!existsSync(join(paths.outDir, "index.html"))) {
    throw new Error(`${paths.outDir} holds no built page (index.html): run after \`npm run build\`.`);
  }
  rmSync(join(paths.outDir, "config.json"), { force: true });
  writeFileSync(
    join(paths.outDir, "staticwebapp.config.json"),
    json(renderSwaConfig(JSON.parse(readFileSync(paths.template, "utf8")), null)),
  );
}

/** The CLI: API_BASE_URL (required unless --same-origin) and the AZURE_AUTH_* values from the environment; --out-dir=DIR instead of dist/; --clean for the local state (end of the build, after the deploy). */
export function writeRuntimeConfigFromEnvironment(env, argv = [], paths = defaultPaths) {
  const unknown = argv.filter((a) => a !== "--same-origin" && a !== "--clean" && !a.startsWith("--out-dir="));
  if (unknown.length) throw new Error(`unknown argument(s): ${unknown.join(" ")}`);
  const outDir = argv.find((a) => a.startsWith("--out-dir="))?.slice("--out-dir=".length);
  if (outDir !== undefined) paths = { ...paths, outDir: resolve(outDir) };
  if (argv.includes("--clean")) {
    cleanRuntimeConfig(paths);
    return `Runtime config removed from ${paths.outDir}: no config.json, CSP connect-src 'self'.`;
  }
  const sameOrigin = argv.includes("--same-origin");
  const apiBaseUrl = sameOrigin ? null : (env.API_BASE_URL ?? "").trim();
  if (!sameOrigin && !apiBaseUrl) {
    throw new Error(
      "API_BASE_URL is not set. Set it to the Function App URL (azd sets it after provisioning), " +
        "or pass --same-origin when the page and the API share an origin.",
    );
  }
  const { config, csp } = writeRuntimeConfig({ apiBaseUrl, auth: authConfigOf(env) }, paths);
  return `Runtime config in ${paths.outDir}: API ${config.apiBaseUrl || "(same origin)"}; sign-in ${config.auth ? "on" : "off"}; CSP ${csp.split("; ").filter((d) => /^(connect|frame)-src /.test(d)).join("; ")}.`;
}
