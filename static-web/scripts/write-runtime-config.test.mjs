import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { apiOriginOf, authConfigOf, cleanRuntimeConfig, defaultPaths, renderSwaConfig, writeRuntimeConfig } from "./runtime-config.mjs";

const scriptsDir = dirname(fileURLToPath(import.meta.url));
const webDir = join(scriptsDir, "..");
const cli = join(scriptsDir, "write-runtime-config.mjs");
const template = JSON.parse(readFileSync(defaultPaths.template, "utf8"));
const cspOf = (config) => config.globalHeaders["Content-Security-Policy"];
const directive = (csp, name) => csp.split(";").map((d) => d.trim()).find((d) => d.startsWith(name + " "));
const tenant = "11111111-1111-1111-1111-111111111111";
const spa = "22222222-2222-2222-2222-222222222222";
const api = "33333333-3333-3333-3333-333333333333";
const authEnv = { AZURE_AUTH_ENABLED: "true", AZURE_AUTH_TENANT_ID: tenant, AZURE_AUTH_SPA_CLIENT_ID: spa, AZURE_AUTH_API_CLIENT_ID: api };

/** A fake build output: a dist/ with an index.html, as `npm run build` leaves it. */
function builtDist() {
  const outDir = mkdtempSync(join(tmpdir(), "runtime-config-"));
  writeFileSync(join(outDir, "index.html"), "<!doctype html>");
  return { template: defaultPaths.template, outDir };
}

const readJson = (dir, name) => JSON.parse(readFileSync(join(dir, name), "utf8"));

/** Runs the CLI as azd's hook does: node, a script path, the azd environment. */
function runCli(args, env, { script = cli, cwd = webDir } = {}) {
  return spawnSync(process.execPath, [script, ...args], { cwd, encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
}

function hashTree(dir) {
  const hash = createHash("sha256");
  for (const name of readdirSync(dir).sort()) hash.update(name).update(readFileSync(join(dir, name)));
  return hash.digest("hex");
}

describe("runtime config", () => {
  it("keeps no staticwebapp.config.json in the sources: the build writes the one copy into dist/", () => {
    // The SWA CLI takes the last staticwebapp.config.json it meets anywhere under the app folder; a copy under
    // public/ (which Vite also copies into dist/) could win over the deployment's (azd-lifecycle.test.mjs).
    expect(existsSync(join(webDir, "public", "staticwebapp.config.json"))).toBe(false);
    expect(JSON.parse(readFileSync(join(webDir, "package.json"), "utf8")).scripts.build).toMatch(/&& node scripts\/write-runtime-config\.mjs --clean$/);
  });

  it("the default CSP allows scripts and connections only to 'self'", () => {
    const csp = cspOf(template);
    expect(directive(csp, "script-src")).toBe("script-src 'self'");
    expect(directive(csp, "connect-src")).toBe("connect-src 'self'");
    expect(directive(csp, "default-src")).toBe("default-src 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it("has an SPA navigation fallback that never rewrites config.json or assets", () => {
    expect(template.navigationFallback.rewrite).toBe("/index.html");
    expect(template.navigationFallback.exclude).toEqual(expect.arrayContaining(["/assets/*", "/config.json"]));
  });

  it("writes config.json and the CSP with exactly the API origin into the build output", () => {
    const paths = builtDist();
    writeRuntimeConfig({ apiBaseUrl: "https://func-abc.azurewebsites.net/" }, paths);
    const swa = readJson(paths.outDir, "staticwebapp.config.json");
    expect(directive(cspOf(swa), "connect-src")).toBe("connect-src 'self' https://func-abc.azurewebsites.net");
    expect(directive(cspOf(swa), "script-src")).toBe("script-src 'self'");
    expect(directive(cspOf(swa), "frame-src")).toBeUndefined();
    expect(readJson(paths.outDir, "config.json")).toEqual({ apiBaseUrl: "https://func-abc.azurewebsites.net", auth: null });
  });

  it("keeps a path prefix in apiBaseUrl but only the origin in the CSP", () => {
    const paths = builtDist();
    writeRuntimeConfig({ apiBaseUrl: "https://api.example.com/chat/" }, paths);
    expect(directive(cspOf(readJson(paths.outDir, "staticwebapp.config.json")), "connect-src")).toBe("connect-src 'self' https://api.example.com");
    expect(readJson(paths.outDir, "config.json").apiBaseUrl).toBe("https://api.example.com/chat");
  });

  it("with sign-in on, writes the SPA client, the tenant authority and the API scope, and lets msal reach the login origin", () => {
    const paths = builtDist();
    const auth = authConfigOf(authEnv);
    writeRuntimeConfig({ apiBaseUrl: "https://func-abc.azurewebsites.net", auth }, paths);

    expect(readJson(paths.outDir, "config.json")).toEqual({
      apiBaseUrl: "https://func-abc.azurewebsites.net",
      auth: { clientId: spa, authority: `https://login.microsoftonline.com/${tenant}`, scopes: [`api://${api}/chat`] },
    });
    const csp = cspOf(readJson(paths.outDir, "staticwebapp.config.json"));
    expect(directive(csp, "connect-src")).toBe("connect-src 'self' https://func-abc.azurewebsites.net https://login.microsoftonline.com");
    expect(directive(csp, "frame-src")).toBe("frame-src https://login.microsoftonline.com");
    expect(directive(csp, "script-src")).toBe("script-src 'self'");
  });

  it("sign-in is off unless AZURE_AUTH_ENABLED is true", () => {
    expect(authConfigOf({})).toBeNull();
    expect(authConfigOf({ AZURE_AUTH_ENABLED: "false", AZURE_AUTH_SPA_CLIENT_ID: spa })).toBeNull();
    expect(() => authConfigOf({ AZURE_AUTH_ENABLED: "yes" })).toThrow(/AZURE_AUTH_ENABLED/);
    expect(() => authConfigOf({ ...authEnv, AZURE_AUTH_SPA_CLIENT_ID: "" })).toThrow(/AZURE_AUTH_SPA_CLIENT_ID/);
    expect(() => authConfigOf({ ...authEnv, AZURE_AUTH_API_CLIENT_ID: "not-a-guid" })).toThrow(/AZURE_AUTH_API_CLIENT_ID/);
  });

  it("refuses to write into a folder without a built page (Vite would empty it on the next build anyway)", () => {
    const outDir = mkdtempSync(join(tmpdir(), "runtime-config-empty-"));
    expect(() => writeRuntimeConfig({ apiBaseUrl: "https://func.example.com" }, { template: defaultPaths.template, outDir })).toThrow(/index\.html/);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it("clean puts the build output in the local state: no config.json, the default CSP", () => {
    const paths = builtDist();
    writeRuntimeConfig({ apiBaseUrl: "https://func-abc.azurewebsites.net", auth: authConfigOf(authEnv) }, paths);
    cleanRuntimeConfig(paths);
    expect(existsSync(join(paths.outDir, "config.json"))).toBe(false);
    expect(readJson(paths.outDir, "staticwebapp.config.json")).toEqual(renderSwaConfig(template, null));
  });

  it("clean writes the default CSP into a fresh build output that has none", () => {
    const paths = builtDist();
    cleanRuntimeConfig(paths);
    expect(readdirSync(paths.outDir).sort()).toEqual(["index.html", "staticwebapp.config.json"]);
    expect(readJson(paths.outDir, "staticwebapp.config.json")).toEqual(renderSwaConfig(template, null));
    expect(() => cleanRuntimeConfig({ template: defaultPaths.template, outDir: mkdtempSync(join(tmpdir(), "runtime-config-none-")) })).toThrow(/index\.html/);
  });

  it.each([
    ["not a url", /absolute URL/],
    ["http://func.example.com", /https/],
    ["https://user:pw@func.example.com", /credentials/],
    ["https://func.example.com/?code=secret", /query/],
    ["javascript:alert(1)", /https/],
  ])("rejects %s", (value, message) => {
    expect(() => apiOriginOf(value)).toThrow(message);
  });

  it("allows plain http on loopback for local runs", () => {
    expect(apiOriginOf("http://localhost:7071")).toBe("http://localhost:7071");
    expect(apiOriginOf("http://127.0.0.1:7071/")).toBe("http://127.0.0.1:7071");
  });
});

describe("write-runtime-config.mjs (the azd hook's command)", () => {
  it("writes into the build output and leaves the tracked public/ folder as it was", () => {
    const { outDir } = builtDist();
    const before = hashTree(join(webDir, "public"));
    const result = runCli([`--out-dir=${outDir}`], { API_BASE_URL: "https://func-abc.azurewebsites.net", ...authEnv });
    expect(result.status, result.stderr).toBe(0);
    expect(readJson(outDir, "config.json").auth.clientId).toBe(spa);
    expect(hashTree(join(webDir, "public"))).toBe(before);
  });

  it("--clean after the deploy leaves no deployed API address in the build output", () => {
    const { outDir } = builtDist();
    expect(runCli([`--out-dir=${outDir}`], { API_BASE_URL: "https://func-abc.azurewebsites.net" }).status).toBe(0);
    const result = runCli([`--out-dir=${outDir}`, "--clean"], {});
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(outDir).sort()).toEqual(["index.html", "staticwebapp.config.json"]);
    expect(readFileSync(join(outDir, "staticwebapp.config.json"), "utf8")).not.toContain("func-abc");
  });

  it("runs whatever path it is started by: relative, through a symlink, from another folder", () => {
    const linkDir = mkdtempSync(join(tmpdir(), "runtime-config-link-"));
    const link = join(linkDir, "hook.mjs");
    symlinkSync(cli, link);
    for (const [script, cwd] of [[relative(webDir, cli), webDir], ["./scripts/write-runtime-config.mjs", webDir], [link, tmpdir()]]) {
      const { outDir } = builtDist();
      const result = runCli([`--out-dir=${outDir}`], { API_BASE_URL: "https://func-abc.azurewebsites.net" }, { script, cwd });
      expect(result.status, `${script}: ${result.stderr}`).toBe(0);
      expect(existsSync(join(outDir, "config.json")), script).toBe(true);
    }
  });

  it.each([
    ["without API_BASE_URL", {}, [], /API_BASE_URL is not set/],
    ["with a bad API_BASE_URL", { API_BASE_URL: "http://func.example.com" }, [], /https/],
    ["with sign-in on but no SPA client id", { API_BASE_URL: "https://func.example.com", ...authEnv, AZURE_AUTH_SPA_CLIENT_ID: "" }, [], /AZURE_AUTH_SPA_CLIENT_ID/],
    ["with an unknown argument", { API_BASE_URL: "https://func.example.com" }, ["--purge"], /unknown argument/],
  ])("fails loudly %s, writing nothing", (_name, env, args, message) => {
    const { outDir } = builtDist();
    const result = runCli([`--out-dir=${outDir}`, ...args], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(readdirSync(outDir)).toEqual(["index.html"]);
  });

  it("fails loudly before the page is built", () => {
    const outDir = join(mkdtempSync(join(tmpdir(), "runtime-config-nobuild-")), "dist");
    mkdirSync(outDir);
    const result = runCli([`--out-dir=${outDir}`], { API_BASE_URL: "https://func.example.com" });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/no built page/);
  });
});
