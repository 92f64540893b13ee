// The VSIX's size and the extension's activation time:  node --import tsx scripts/bench/vsix.ts [--reuse]
// Activation alone, side by side:  node --import tsx scripts/bench/vsix.ts --activation DIR [DIR...]
// (each DIR an extension directory holding dist/extension.js; runs interleaved, ratios to the first).
//
// Builds the VSIX and the npm package (npm run package), unpacks the VSIX as VS Code installs it,
// and times, in a fresh Node process per run, require() of the installed dist/extension.js and its
// activate() against a stub of the `vscode` module (every API call answers at once, so the figure
// is the extension's own work). Each run also lists the native modules and the modules of
// node_modules that activation loaded: nothing heavy should load before a command runs.
// Writes bench/vsix-results.md and bench/vsix-results.json.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, spread, type Spread } from "./stats";

const repo = path.resolve(__dirname, "../..");
const RUNS = 15;
const TARGET_ACTIVATION_MS = 50;

interface RunResult {
  requireMs: number;
  activateMs: number;
  /** CPU time (user + system, all threads) of require + activate: less sensitive than wall time to a busy machine. */
  cpuMs: number;
  /** Native (.node) modules loaded by require + activate. */
  native: string[];
  /** Files under node_modules loaded by require + activate. */
  nodeModules: string[];
  /** Commands activate() registered. */
  commands: string[];
}

/**
 * The child: a `vscode` stub whose every member is a callable, constructible proxy (thenable-free,
 * iterable as empty), with the few values activate() branches on answered plainly.
 */
const CHILD = String.raw`
const Module = require("node:module");
const path = require("node:path");
const [extensionDir, storage, apiNames, preload] = process.argv.slice(1);
// The extension host has loaded Node's built-in modules long before any extension activates.
for (const builtin of JSON.parse(preload)) require(builtin);
const commands = [];
const plain = {
  "workspace.workspaceFolders": undefined,
  "window.activeTextEditor": undefined,
  "window.visibleTextEditors": [],
  "workspace.textDocuments": [],
};
function stub(name) {
  const target = function () {};
  const assigned = new Map();
  return new Proxy(target, {
    set: (_, key, value) => (assigned.set(key, value), true),
    get(_, key) {
      if (assigned.has(key)) return assigned.get(key);
      if (key === "then") return undefined;
      if (key === Symbol.iterator) return function* () {};
      if (key === Symbol.toPrimitive) return () => "";
      const child = name ? name + "." + String(key) : String(key);
      if (child in plain) return plain[child];
      if (child === "commands.registerCommand") return (id) => (commands.push(id), stub("disposable"));
      if (child.endsWith(".get") && name.startsWith("workspace.getConfiguration")) return (_key, fallback) => fallback;
      if (child === "workspace.findFiles") return async () => [];
      return stub(child);
    },
    apply: () => stub(name + "()"),
    construct: () => stub("new " + name),
  });
}
// A plain object with the API's names: esbuild's ESM interop copies the module's own properties.
const vscode = Object.fromEntries(JSON.parse(apiNames).map((name) => [name, stub(name)]));
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === "vscode" ? vscode : load.call(this, request, ...rest);
};
const native = [];
const loadNative = Module._extensions[".node"];
Module._extensions[".node"] = function (module, file) {
  native.push(path.relative(extensionDir, file));
  return loadNative(module, file);
};
const memento = (values) => ({ get: (key, fallback) => (key in values ? values[key] : fallback), update: async () => {}, keys: () => [] });
const context = {
  subscriptions: [],
  extensionPath: extensionDir,
  extensionUri: { fsPath: extensionDir, path: extensionDir, scheme: "file" },
  storageUri: { fsPath: storage, path: storage, scheme: "file" },
  globalStorageUri: { fsPath: storage, path: storage, scheme: "file" },
  globalState: memento({ "ggmlLens.firstRunExplained": true }),
  workspaceState: memento({}),
};
const before = new Set(Object.keys(require.cache));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const extension = require(path.join(extensionDir, "dist", "extension.js"));
const t1 = performance.now();
extension.activate(context);
const t2 = performance.now();
const cpu = process.cpuUsage(cpu0);
const loaded = Object.keys(require.cache).filter((file) => !before.has(file) && file.includes("node_modules"));
process.stdout.write(JSON.stringify({
  requireMs: t1 - t0,
  activateMs: t2 - t1,
  cpuMs: (cpu.user + cpu.system) / 1000,
  native,
  nodeModules: loaded.map((file) => path.relative(extensionDir, file)),
  commands,
}));
`;

function sh(command: string, args: string[], cwd = repo): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

function onePackage(dir: string, suffix: string): string {
  const found = fs.readdirSync(dir).filter((name) => name.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one *${suffix} in ${dir}, found ${found.length}`);
  return path.join(dir, found[0]);
}

/** The namespaces, classes and enums of the `vscode` module, from its type declarations. */
function vscodeApiNames(): string[] {
  const declarations = fs.readFileSync(path.join(repo, "node_modules", "@types", "vscode", "index.d.ts"), "utf8");
  const names = [...declarations.matchAll(/^\texport (?:namespace|class|enum) (\w+)/gm)].map((m) => m[1]);
  return [...new Set(names)];
}

/** The Node built-in modules a bundle requires. */
function builtinsOf(bundle: string): string[] {
  return [...new Set([...fs.readFileSync(bundle, "utf8").matchAll(/require\("(node:[\w/]+)"\)/g)].map((m) => m[1]))];
}

function runOnce(extensionDir: string, storage: string, preload: string[]): RunResult {
  const args = ["-e", CHILD, extensionDir, storage, JSON.stringify(vscodeApiNames()), JSON.stringify(preload)];
  const run = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`activation run failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as RunResult;
}

function ms(x: number): string {
  return `${x.toFixed(1)} ms`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** --activation DIR...: require + activate of each directory's dist/extension.js, interleaved, with ratios to the first. */
function compareActivation(dirs: string[]): void {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-activation-"));
  try {
    const builtins = [...new Set(dirs.flatMap((dir) => builtinsOf(path.join(dir, "dist", "extension.js"))))];
    const runs = dirs.map((): RunResult[] => []);
    for (let i = 0; i < RUNS; i++) dirs.forEach((dir, d) => runs[d].push(runOnce(dir, storage, builtins)));
    const cpu = runs.map((r) => spread(r.map((x) => x.cpuMs)));
    const wall = runs.map((r) => spread(r.map((x) => x.requireMs + x.activateMs)));
    const lines = dirs.map((dir, d) => {
      const ratio = (a: Spread | undefined, b: Spread | undefined): string => (a && b ? `${(a.median / b.median).toFixed(2)}x` : "n/a");
      const bytes = fs.statSync(path.join(dir, "dist", "extension.js")).size;
      return [
        `${dir}: dist/extension.js ${kib(bytes)}`,
        `  CPU time of require + activate: ${describe(cpu[d], ms)}; ${ratio(cpu[d], cpu[0])} of the first`,
        `  wall time of require + activate: ${describe(wall[d], ms)}; ${ratio(wall[d], wall[0])} of the first`,
        `  require ${describe(spread(runs[d].map((x) => x.requireMs)), ms)}, activate() ${describe(spread(runs[d].map((x) => x.activateMs)), ms)}`,
      ].join("\n");
    });
    process.stdout.write(`${lines.join("\n")}\nload average ${os.loadavg()[0].toFixed(1)}; ${RUNS} interleaved runs each, Node built-ins preloaded\n`);
  } finally {
    fs.rmSync(storage, { recursive: true, force: true });
  }
}

function main(): void {
  const at = process.argv.indexOf("--activation");
  if (at >= 0) return compareActivation(process.argv.slice(at + 1));
  // --reuse: time the VSIX that dist/package already holds.
  if (!process.argv.includes("--reuse")) sh("bash", ["scripts/package.sh"]);
  const out = path.join(repo, "dist", "package");
  const vsix = onePackage(out, ".vsix");
  const tarball = onePackage(out, ".tgz");
  const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-vsix-bench-"));
  try {
    sh("unzip", ["-q", vsix, "-d", unpacked]);
    const extensionDir = path.join(unpacked, "extension");
    const files = sh("unzip", ["-Z1", vsix]).trim().split("\n");
    const installedBytes = files.reduce((total, file) => total + (fs.statSync(path.join(unpacked, file), { throwIfNoEntry: false })?.size ?? 0), 0);
    const storage = path.join(unpacked, "storage");
    const builtins = builtinsOf(path.join(extensionDir, "dist", "extension.js"));
    // Interleaved: as in the extension host (built-ins loaded), and in a bare Node process.
    const pairs = Array.from({ length: RUNS }, () => [runOnce(extensionDir, storage, builtins), runOnce(extensionDir, storage, [])]);
    const runs = pairs.map(([host]) => host);
    const bare = pairs.map(([, cold]) => cold);
    const total = spread(runs.map((r) => r.requireMs + r.activateMs));
    const results = {
      date: new Date().toISOString(),
      machine: `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} CPUs, Linux ${os.release()}, Node ${process.version}`,
      vsix: { file: path.basename(vsix), bytes: fs.statSync(vsix).size, files: files.length, installedBytes },
      npm: { file: path.basename(tarball), bytes: fs.statSync(tarball).size },
      activation: {
        runs: RUNS,
        requireMs: spread(runs.map((r) => r.requireMs)),
        activateMs: spread(runs.map((r) => r.activateMs)),
        totalMs: total,
        cpuMs: spread(runs.map((r) => r.cpuMs)),
        builtins,
        bareTotalMs: spread(bare.map((r) => r.requireMs + r.activateMs)),
        bareCpuMs: spread(bare.map((r) => r.cpuMs)),
        loadAverage: os.loadavg()[0],
        targetMs: TARGET_ACTIVATION_MS,
        native: runs[0].native,
        nodeModules: runs[0].nodeModules,
        commands: runs[0].commands,
      },
    };
    fs.mkdirSync(path.join(repo, "bench"), { recursive: true });
    fs.writeFileSync(path.join(repo, "bench", "vsix-results.json"), `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync(path.join(repo, "bench", "vsix-results.md"), report(results, total));
    process.stdout.write(report(results, total));
  } finally {
    fs.rmSync(unpacked, { recursive: true, force: true });
  }
}

function report(r: { date: string; machine: string; vsix: { file: string; bytes: number; files: number; installedBytes: number }; npm: { file: string; bytes: number }; activation: { requireMs?: Spread; activateMs?: Spread; cpuMs?: Spread; builtins: string[]; bareTotalMs?: Spread; bareCpuMs?: Spread; loadAverage: number; native: string[]; nodeModules: string[]; commands: string[] } }, total: Spread | undefined): string {
  const verdict = total && total.median < TARGET_ACTIVATION_MS ? "within" : "over";
  return [
    "# VSIX size and activation time",
    "",
    `${r.date}; ${r.machine}. Written by \`node --import tsx scripts/bench/vsix.ts\`.`,
    "",
    "| what | figure |",
    "| --- | --- |",
    `| ${r.vsix.file} | ${kib(r.vsix.bytes)} (${r.vsix.files} entries, ${kib(r.vsix.installedBytes)} installed) |`,
    `| ${r.npm.file} (npm pack) | ${kib(r.npm.bytes)} |`,
    `| require(dist/extension.js) | ${describe(r.activation.requireMs, ms)} |`,
    `| activate() | ${describe(r.activation.activateMs, ms)} |`,
    `| require + activate | ${describe(total, ms)}: ${verdict} the ${TARGET_ACTIVATION_MS} ms target |`,
    `| CPU time of require + activate | ${describe(r.activation.cpuMs, ms)} |`,
    `| the same in a bare Node process, wall | ${describe(r.activation.bareTotalMs, ms)} |`,
    `| the same in a bare Node process, CPU | ${describe(r.activation.bareCpuMs, ms)} |`,
    "",
    `Load average ${r.activation.loadAverage.toFixed(1)} when the runs ended (wall times stretch on a busy machine; CPU time much less). ` +
      `Fresh Node process per run, with the built-in modules the bundle uses (${r.activation.builtins.map((b) => `\`${b}\``).join(", ")}) loaded first as the extension host has them, and, interleaved, in a bare Node process that loads them during require; ` +
      `the VSIX unpacked as VS Code installs it, \`vscode\` stubbed (its calls answer at once). ` +
      `Loaded by require + activate from node_modules: ${r.activation.nodeModules.length === 0 ? "nothing" : r.activation.nodeModules.map((f) => `\`${f}\``).join(", ")}; ` +
      `native modules: ${r.activation.native.length === 0 ? "none" : r.activation.native.map((f) => `\`${f}\``).join(", ")}. ` +
      `Commands registered: ${r.activation.commands.length}.`,
    "",
  ].join("\n");
}

main();
