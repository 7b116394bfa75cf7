// The Node.js version this project asks for is one every installed package accepts, and the README says the same.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { describe, expect, it } from "vitest";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ours = JSON.parse(readFileSync(join(webDir, "package.json"), "utf8")).engines.node;
const minimum = semver.minVersion(ours);

/** Every package.json under node_modules (nested ones too), as npm ci installed them. */
function* installedPackages(dir = join(webDir, "node_modules")) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith("@")) {
      yield* installedPackages(path);
      continue;
    }
    const manifest = join(path, "package.json");
    if (existsSync(manifest)) yield JSON.parse(readFileSync(manifest, "utf8"));
    if (existsSync(join(path, "node_modules"))) yield* installedPackages(join(path, "node_modules"));
  }
}

describe("Node.js version", () => {
  it("is a minimum every installed package accepts, so npm ci on it warns about no engine", () => {
    expect(minimum, `engines.node "${ours}"`).not.toBeNull();
    const refusing = [];
    for (const pkg of installedPackages()) {
      const range = pkg.engines?.node;
      if (typeof range !== "string" || !semver.validRange(range)) continue;
      if (!semver.satisfies(minimum, range)) refusing.push(`${pkg.name}@${pkg.version} wants node ${range}`);
    }
    expect(refusing).toEqual([]);
  });

  it("is the one the README's prerequisites and quick start name", () => {
    const readme = readFileSync(join(webDir, "..", "README.md"), "utf8");
    const named = `Node.js ${minimum.major}.${minimum.minor}+`;
    expect(readme).toContain(named);
    const others = [...readme.matchAll(/Node\.js(?:\]\([^)]*\))? (\d+\.\d+)\+/g)].map((m) => `Node.js ${m[1]}+`).filter((m) => m !== named);
    expect(others).toEqual([]);
  });
});
