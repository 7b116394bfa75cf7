import { mkdtempSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { apiOriginOf, cleanRuntimeConfig, defaultPaths, renderSwaConfig, writeRuntimeConfig } from "./write-runtime-config.mjs";

const template = JSON.parse(readFileSync(defaultPaths.template, "utf8"));
const cspOf = (config) => config.globalHeaders["Content-Security-Policy"];
const directive = (csp, name) => csp.split(";").map((d) => d.trim()).find((d) => d.startsWith(name + " "));

function tempPaths() {
  const publicDir = mkdtempSync(join(tmpdir(), "runtime-config-"));
  return { template: defaultPaths.template, publicDir };
}

describe("write-runtime-config", () => {
  it("the committed public/staticwebapp.config.json is the template's clean rendering", () => {
    const committed = JSON.parse(readFileSync(join(defaultPaths.publicDir, "staticwebapp.config.json"), "utf8"));
    expect(committed).toEqual(renderSwaConfig(template, null));
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

  it("adds exactly the API origin to connect-src and writes config.json", () => {
    const paths = tempPaths();
    writeRuntimeConfig("https://func-abc.azurewebsites.net/", paths);
    const swa = JSON.parse(readFileSync(join(paths.publicDir, "staticwebapp.config.json"), "utf8"));
    expect(directive(cspOf(swa), "connect-src")).toBe("connect-src 'self' https://func-abc.azurewebsites.net");
    expect(directive(cspOf(swa), "script-src")).toBe("script-src 'self'");
    expect(JSON.parse(readFileSync(join(paths.publicDir, "config.json"), "utf8"))).toEqual({
      apiBaseUrl: "https://func-abc.azurewebsites.net",
    });
  });

  it("keeps a path prefix in apiBaseUrl but only the origin in the CSP", () => {
    const paths = tempPaths();
    writeRuntimeConfig("https://api.example.com/chat/", paths);
    const swa = JSON.parse(readFileSync(join(paths.publicDir, "staticwebapp.config.json"), "utf8"));
    expect(directive(cspOf(swa), "connect-src")).toBe("connect-src 'self' https://api.example.com");
    expect(JSON.parse(readFileSync(join(paths.publicDir, "config.json"), "utf8")).apiBaseUrl).toBe("https://api.example.com/chat");
  });

  it("--clean removes config.json and restores the default CSP", () => {
    const paths = tempPaths();
    writeRuntimeConfig("https://func-abc.azurewebsites.net", paths);
    cleanRuntimeConfig(paths);
    expect(existsSync(join(paths.publicDir, "config.json"))).toBe(false);
    const swa = JSON.parse(readFileSync(join(paths.publicDir, "staticwebapp.config.json"), "utf8"));
    expect(swa).toEqual(renderSwaConfig(template, null));
  });

  it("clean is harmless when nothing was written", () => {
    const paths = tempPaths();
    writeFileSync(join(paths.publicDir, "other.txt"), "x");
    expect(() => cleanRuntimeConfig(paths)).not.toThrow();
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
