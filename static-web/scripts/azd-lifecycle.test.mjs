// Replays what `azd up` / `azd deploy` does for the `web` service of azure.yaml, in azd's order, on a copy of this
// folder, and asks the real SWA CLI (the tool azd uploads with) what it would upload. Read from azd's source
// (Azure/azure-dev, cli/azd/pkg/project): the Node framework service (framework_service_node.go) declares
// RequireBuild false, and its Package step runs the package.json `build` script itself, so serviceManager.Package
// (service_manager.go) never calls Build and no prebuild/postbuild hook fires. Package runs inside the `package`
// event (prepackage, build script, postpackage); Deploy runs the Static Web Apps target (service_target_staticwebapp.go)
// inside the `deploy` event (predeploy, `swa deploy --app-location <project> --output-location <dist>`, postdeploy).
// A hook that exits non-zero with continueOnError false fails the event, and nothing after it runs.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(webDir, "..");
const azureYaml = parse(readFileSync(join(repoRoot, "azure.yaml"), "utf8"));
const web = azureYaml.services.web;
const apiBaseUrl = "https://func-abc123.azurewebsites.net";

// The service events azd fires around the steps of `package` and `deploy` for a js service (restore comes first:
// its hooks would run before the package step). No `build` event: see the header.
const lifecycle = [
  { event: "restore", step: null },
  { event: "package", step: "build" },
  { event: "deploy", step: "upload" },
];
const firedHooks = lifecycle.flatMap(({ event }) => [`pre${event}`, `post${event}`]);

// A build on a machine shared with other test runs: tsc and Vite, measured at 15-40 s here; generous on purpose.
const buildTimeoutMs = 180_000;
// The SWA CLI is installed once per machine into .tools/ (about 80 s over a slow registry connection).
const installTimeoutMs = 300_000;

let swaCli;
const copies = [];

beforeAll(async () => {
  const install = spawnSync(join(repoRoot, "scripts", "swa-cli.sh"), ["--install"], { encoding: "utf8", timeout: installTimeoutMs });
  expect(install.status, install.stderr).toBe(0);
  const packageDir = install.stdout.trim().split("\n").at(-1);
  // The CLI's own modules, as `swa deploy` uses them (src/cli/commands/deploy/deploy.ts).
  const userConfig = await import(pathToFileURL(join(packageDir, "dist", "core", "utils", "user-config.js")).href);
  const workflowConfig = await import(pathToFileURL(join(packageDir, "dist", "core", "utils", "workflow-config.js")).href);
  swaCli = { findSWAConfigFile: userConfig.findSWAConfigFile, readWorkflowFile: workflowConfig.readWorkflowFile };
}, installTimeoutMs);

afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the repository's service folder as a fresh clone has it (no dist/), sharing node_modules. */
function cloneService() {
  const root = mkdtempSync(join(tmpdir(), "azd-lifecycle-"));
  copies.push(root);
  const project = join(root, web.project);
  cpSync(webDir, project, {
    recursive: true,
    filter: (source) => !["node_modules", "dist"].includes(source.slice(webDir.length + 1).split("/")[0]),
  });
  symlinkSync(join(webDir, "node_modules"), join(project, "node_modules"), "dir");
  return { root, project };
}

/** Runs one hook the way azd does on Linux: its `posix` command in the shell it names, in the service folder. */
function runHook(name, project, env) {
  const hook = web.hooks?.[name]?.posix;
  if (!hook) return null;
  const result = spawnSync(hook.shell, ["-c", hook.run], { cwd: project, env, encoding: "utf8", timeout: buildTimeoutMs });
  return { name, ...result, continueOnError: hook.continueOnError === true };
}

/** What `swa deploy` uploads, asked of the SWA CLI's own code with the arguments azd passes it. */
async function whatSwaDeployUploads(root) {
  const previous = process.cwd();
  process.chdir(root); // azd runs `swa deploy` from the project root, with the service folder as app location.
  try {
    const appLocation = resolve(web.project);
    const workflow = swaCli.readWorkflowFile({ userWorkflowConfig: { appLocation, outputLocation: resolve(appLocation, web.dist) } });
    const config = await swaCli.findSWAConfigFile(appLocation);
    return { folder: workflow.outputLocation, configFile: config?.filepath ?? null, config: config?.content ?? null };
  } finally {
    process.chdir(previous);
  }
}

/** azd's order for the service; stops at the first failing hook as azd does. */
async function replay(environment) {
  const { root, project } = cloneService();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...environment };
  const ran = [];
  let upload = null;
  for (const { event, step } of lifecycle) {
    const pre = runHook(`pre${event}`, project, env);
    if (pre) {
      ran.push(pre);
      if (pre.status !== 0 && !pre.continueOnError) return { ran, upload, failed: pre };
    }
    if (step === "build") {
      const build = spawnSync("npm", ["run", "build"], { cwd: project, env, encoding: "utf8", timeout: buildTimeoutMs });
      ran.push({ name: "npm run build", ...build });
      if (build.status !== 0) return { ran, upload, failed: ran.at(-1) };
    } else if (step === "upload") {
      const swa = await whatSwaDeployUploads(root);
      upload = {
        ...swa,
        files: readdirSync(swa.folder).sort(),
        configJson: existsSync(join(swa.folder, "config.json")) ? JSON.parse(readFileSync(join(swa.folder, "config.json"), "utf8")) : null,
      };
    }
    const post = runHook(`post${event}`, project, env);
    if (post) {
      ran.push(post);
      if (post.status !== 0 && !post.continueOnError) return { ran, upload, failed: post };
    }
  }
  return { ran, upload, failed: null, distAfter: readdirSync(join(project, web.dist)).sort(), project };
}

const connectSrc = (config) =>
  config.globalHeaders["Content-Security-Policy"].split(";").map((d) => d.trim()).find((d) => d.startsWith("connect-src "));

describe("azd's lifecycle for the web service", () => {
  it("is the service shape the replay models: a js project on Static Web Apps, deployed from dist/", () => {
    expect([web.language, web.host, web.dist]).toEqual(["js", "staticwebapp", "dist"]);
    // With swa-cli.config.json in the service folder azd would build and deploy with the SWA CLI instead.
    expect(existsSync(join(webDir, "swa-cli.config.json"))).toBe(false);
  });

  it("declares hooks only for events azd fires for this service", () => {
    const declared = Object.keys(web.hooks ?? {});
    expect(declared.filter((name) => !firedHooks.includes(name)), "azd fires no build event for a js service").toEqual([]);
    for (const name of declared) {
      for (const os of ["posix", "windows"]) expect(web.hooks[name][os]?.continueOnError, `${name}.${os}`).toBe(false);
    }
  });

  it(
    "uploads exactly one staticwebapp.config.json, the built one, with config.json naming the API and a CSP allowing it",
    async () => {
      const result = await replay({ API_BASE_URL: apiBaseUrl, AZURE_ENV_NAME: "dev" });

      expect(result.failed, result.failed && `${result.failed.name}: ${result.failed.stderr}`).toBeNull();
      expect(result.ran.map((r) => r.name)).toEqual(["npm run build", ...firedHooks.filter((h) => web.hooks?.[h])].sort(byLifecycle));
      const { upload } = result;
      expect(upload.folder).toBe(join(result.project, web.dist));
      expect(upload.configJson).toEqual({ apiBaseUrl, auth: null });
      // The SWA CLI's own pick among every staticwebapp.config.json under the app folder is the uploaded folder's.
      expect(upload.configFile).toBe(join(upload.folder, "staticwebapp.config.json"));
      expect(connectSrc(upload.config)).toBe(`connect-src 'self' ${apiBaseUrl}`);
      expect(upload.files).toEqual(expect.arrayContaining(["index.html", "config.json", "staticwebapp.config.json"]));
      // After the deploy the build output is back in its local state.
      expect(result.distAfter).not.toContain("config.json");
    },
    buildTimeoutMs * 3,
  );

  it(
    "stops before the upload when the runtime config cannot be written",
    async () => {
      const result = await replay({ AZURE_ENV_NAME: "dev" });

      expect(result.failed?.name).toBe("predeploy");
      expect(result.failed.status).not.toBe(0);
      expect(result.failed.stderr).toMatch(/API_BASE_URL is not set/);
      expect(result.upload).toBeNull();
    },
    buildTimeoutMs * 3,
  );
});

/** Sorts hook names and the build step into the order the lifecycle runs them. */
function byLifecycle(a, b) {
  const order = lifecycle.flatMap(({ event, step }) => [`pre${event}`, step === "build" ? "npm run build" : step, `post${event}`]);
  return order.indexOf(a) - order.indexOf(b);
}
