#!/usr/bin/env node
// Writes the page's runtime configuration for one deployment (called by the azd hooks, see README):
//   API_BASE_URL=https://func-x.azurewebsites.net node scripts/write-runtime-config.mjs
//     → public/config.json               {"apiBaseUrl": "https://func-x.azurewebsites.net"}
//     → public/staticwebapp.config.json  from the template, with that origin added to CSP connect-src
//   node scripts/write-runtime-config.mjs --same-origin   (the API is served from the page's origin)
//   node scripts/write-runtime-config.mjs --clean         (restore the committed defaults)
// Vite copies public/ into dist/, so run it before `npm run build`.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const defaultPaths = {
  template: join(webDir, "staticwebapp.config.template.json"),
  publicDir: join(webDir, "public"),
};

/** The origin to allow in connect-src; https only, except plain http on loopback for local tests. */
export function apiOriginOf(apiBaseUrl) {
  let url;
  try {
    url = new URL(apiBaseUrl);
  } catch {
    throw new Error(`API_BASE_URL is not an absolute URL: "${apiBaseUrl}"`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`API_BASE_URL must use https (http only for localhost): "${apiBaseUrl}"`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`API_BASE_URL must not contain credentials, a query or a fragment: "${apiBaseUrl}"`);
  }
  return url.origin;
}

/** The base URL the page will use: origin plus optional path prefix, no trailing slash. */
export function normalizeApiBaseUrl(apiBaseUrl) {
  const url = new URL(apiBaseUrl);
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/** Returns the Static Web Apps config with `apiOrigin` (or nothing) added to connect-src. */
export function renderSwaConfig(template, apiOrigin) {
  const config = structuredClone(template);
  const csp = config.globalHeaders?.["Content-Security-Policy"];
  if (typeof csp !== "string" || !/(^|;)\s*connect-src\s/.test(csp)) {
    throw new Error("The template's Content-Security-Policy has no connect-src directive.");
  }
  if (apiOrigin) {
    config.globalHeaders["Content-Security-Policy"] = csp
      .split(";")
      .map((directive) => {
        const trimmed = directive.trim();
        return trimmed.startsWith("connect-src ") ? `${trimmed} ${apiOrigin}` : trimmed;
      })
      .join("; ");
  }
  return config;
}

const json = (value) => JSON.stringify(value, null, 2) + "\n";

export function writeRuntimeConfig(apiBaseUrl, paths = defaultPaths) {
  const template = JSON.parse(readFileSync(paths.template, "utf8"));
  const origin = apiBaseUrl ? apiOriginOf(apiBaseUrl) : null;
  writeFileSync(join(paths.publicDir, "staticwebapp.config.json"), json(renderSwaConfig(template, origin)));
  const configPath = join(paths.publicDir, "config.json");
  if (apiBaseUrl) {
    writeFileSync(configPath, json({ apiBaseUrl: normalizeApiBaseUrl(apiBaseUrl) }));
  } else if (existsSync(configPath)) {
    rmSync(configPath);
  }
  return origin;
}

export function cleanRuntimeConfig(paths = defaultPaths) {
  writeRuntimeConfig(null, paths);
}

function main(argv) {
  if (argv.includes("--clean")) {
    cleanRuntimeConfig();
    console.log("Runtime config cleaned: public/config.json removed, CSP connect-src back to 'self'.");
    return;
  }
  if (argv.includes("--same-origin")) {
    cleanRuntimeConfig();
    console.log("Runtime config: the page calls the API on its own origin.");
    return;
  }
  const apiBaseUrl = (process.env.API_BASE_URL ?? "").trim();
  if (!apiBaseUrl) {
    throw new Error(
      "API_BASE_URL is not set. Set it to the Function App URL (azd sets it after provisioning), " +
        "or pass --same-origin when the page and the API share an origin.",
    );
  }
  const origin = writeRuntimeConfig(apiBaseUrl);
  console.log(`Runtime config: API ${normalizeApiBaseUrl(apiBaseUrl)}; CSP connect-src 'self' ${origin}.`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`write-runtime-config: ${error.message}`);
    process.exit(1);
  }
}
