// Runs the browser tests: every e2e/*.test.mjs file but the timing measurements side by side (each file starts its own
// backend on a free port, its own proxy and its own browser with a temporary profile, and keeps its state in the
// backend's memory, so files cannot see each other), then the timing measurements alone, so that no other file's
// work shares the cores with what they measure. E2E_CONCURRENCY sets how many files run at once (default 2: the CI
// machine's cores); extra arguments go to `node --test` (e.g. --test-reporter=spec).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const e2eDir = dirname(fileURLToPath(import.meta.url));
const ALONE = new Set(["render-cost.test.mjs"]);
const concurrency = Number(process.env.E2E_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`E2E_CONCURRENCY must be a whole number >= 1, not ${process.env.E2E_CONCURRENCY}`);

const files = readdirSync(e2eDir).filter((name) => name.endsWith(".test.mjs")).sort();
const together = files.filter((name) => !ALONE.has(name)).map((name) => join(e2eDir, name));
const alone = files.filter((name) => ALONE.has(name)).map((name) => join(e2eDir, name));
const extra = process.argv.slice(2);

function run(label, concurrencyNow, paths) {
  if (paths.length === 0) return 0;
  const started = Date.now();
  console.log(`\n-- ${label}: ${paths.length} file(s), ${concurrencyNow} at a time`);
  const result = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrencyNow}`, ...extra, ...paths], { stdio: "inherit" });
  console.log(`-- ${label}: ${result.status === 0 ? "passed" : "FAILED"} in ${Math.round((Date.now() - started) / 1000)} s`);
  return result.status ?? 1;
}

// Both runs happen even when the first fails, so one run reports every failing file.
const statuses = [run("browser tests", concurrency, together), run("timing measurements, alone", 1, alone)];
process.exit(statuses.some((status) => status !== 0) ? 1 : 0);
