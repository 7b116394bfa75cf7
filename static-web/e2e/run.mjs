// Runs the browser tests: every e2e/*.test.mjs file but the timing measurements side by side (each file starts its own
// backend on a free port, its own proxy and its own browser with a temporary profile, and keeps its state in the
// backend's memory, so files cannot see each other), then the timing measurements alone, so that no other file's
// work shares the cores with what they measure. E2E_CONCURRENCY sets how many files run at once (default 2: the CI
// machine's cores; three at a time has not been shown to stay green beside two CPU-bound processes). Extra arguments
// go to each file's `node --test` (default reporter: spec). Each file's output is printed once it ends, with its wall
// time, and a table of every file's time ends the run.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const e2eDir = dirname(fileURLToPath(import.meta.url));
const ALONE = new Set(["render-cost.test.mjs"]);
// Longest first (as measured on the 2-core CI machine), so that the run does not end with one long file alone on a
// core. A file not listed starts first: until it is measured, it is assumed long.
const LONGEST_FIRST = [
  "page.test.mjs",
  "keep.test.mjs",
  "chat.test.mjs",
  "features.test.mjs",
  "sync.test.mjs",
  "resume.test.mjs",
  "thinking.test.mjs",
  "reasoning.test.mjs",
];
const concurrency = Number(process.env.E2E_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`E2E_CONCURRENCY must be a whole number >= 1, not ${process.env.E2E_CONCURRENCY}`);

const rank = (name) => (LONGEST_FIRST.includes(name) ? LONGEST_FIRST.indexOf(name) : -1);
const files = readdirSync(e2eDir)
  .filter((name) => name.endsWith(".test.mjs"))
  .sort()
  .sort((a, b) => rank(a) - rank(b));
const together = files.filter((name) => !ALONE.has(name));
const alone = files.filter((name) => ALONE.has(name));
const extra = process.argv.slice(2);
const reporter = extra.some((arg) => arg.startsWith("--test-reporter")) ? [] : ["--test-reporter=spec"];
const seconds = (since) => Math.round((Date.now() - since) / 1000);
const timings = [];

/** One file in its own `node --test`; its output is kept and printed whole when it ends, so files do not interleave. */
function runFile(name) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--test", ...reporter, ...extra, join(e2eDir, name)], { stdio: ["ignore", "pipe", "pipe"] });
    const output = [];
    child.stdout.on("data", (data) => output.push(data));
    child.stderr.on("data", (data) => output.push(data));
    child.on("close", (code, signal) => {
      const passed = code === 0;
      const took = seconds(started);
      timings.push({ name, took, passed });
      process.stdout.write(`\n-- ${name}: ${passed ? "passed" : `FAILED (${signal ?? code})`} in ${took} s\n`);
      process.stdout.write(Buffer.concat(output));
      resolve(passed);
    });
  });
}

async function run(label, concurrencyNow, names) {
  if (names.length === 0) return true;
  const started = Date.now();
  console.log(`\n-- ${label}: ${names.length} file(s), ${concurrencyNow} at a time: ${names.join(", ")}`);
  const queue = [...names];
  const results = [];
  const worker = async () => {
    while (queue.length > 0) results.push(await runFile(queue.shift()));
  };
  await Promise.all(Array.from({ length: Math.min(concurrencyNow, names.length) }, worker));
  const passed = results.every(Boolean);
  console.log(`\n-- ${label}: ${passed ? "passed" : "FAILED"} in ${seconds(started)} s`);
  return passed;
}

// Both runs happen even when the first fails, so one run reports every failing file.
const started = Date.now();
const passed = [await run("browser tests", concurrency, together), await run("timing measurements, alone", 1, alone)];
console.log(`\n-- browser test files, wall time each (${seconds(started)} s in all):`);
for (const { name, took, passed: ok } of timings) console.log(`   ${String(took).padStart(4)} s  ${name}${ok ? "" : "  FAILED"}`);
process.exit(passed.every(Boolean) ? 0 : 1);
