// The VSIX as a user gets it: `npm run package`, installed with `code-server --install-extension`
// into empty extensions and user-data folders, a workspace holding only a copy of ggml's CPU
// backend source, a llama-completion build (binary and libraries) and the tiny model; code-server
// runs with a PATH that holds node alone (no compiler, no make, no repository). "GGML Lens: Profile
// this run" from the palette records with the helper shipped in the VSIX, and ggml-cpu.c shows
// the op-cost lenses.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { launchBrowser } from "../harness/browser";
import { answerInputBox, openFileAtLine, openWorkbench, pickQuickItem, recordTerminal, runPaletteCommand, visibleCodeLenses } from "../harness/browser";
import { tempDir } from "../harness/cleanup";
import { startCodeServer, workbenchUrl } from "../harness/codeServer";
import { tinyCompletionCommand } from "../harness/commandLine";
import { loadFixtures, REPO, type Fixtures } from "../harness/fixtures";
import { copyGgmlCpuSource, GGML_CPU_DIR } from "../harness/workspace";

type Cleanup = () => unknown;

const TITLE = "GGML Lens: Profile this run";
const TERMINAL = "GGML Lens: llama-completion";
const ARTIFACTS = path.join(REPO, "test", "artifacts");
const LENS = /^([A-Z_]+(?:\+[A-Z_]+)?) \d+\.\d% · [\d,]+ calls · [\d.]+ (?:ns|µs|ms|s) avg/;
/** What a workspace or PATH must not offer: a build of the helper instead of the shipped one. */
const BUILD_TOOLS = ["cc", "gcc", "clang", "make", "bpftool", "npm"];

/** Runs scripts/package.sh; the path of the VSIX it wrote. */
function buildVsix(): string {
  execFileSync("bash", [path.join(REPO, "scripts", "package.sh")], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] });
  const out = path.join(REPO, "dist", "package");
  const vsix = fs.readdirSync(out).filter((name) => name.endsWith(".vsix"));
  assert.equal(vsix.length, 1, `one VSIX in ${out}: ${vsix.join(", ")}`);
  return path.join(out, vsix[0]);
}

/** A folder whose only program is node (code-server's launcher runs `env node`). */
function nodeOnlyPath(dir: string): string {
  fs.mkdirSync(dir);
  fs.symlinkSync(process.execPath, path.join(dir, "node"));
  return dir;
}

/** Hard link where the file system allows, else copy (the libraries are large). */
function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

/** ggml-cpu sources, build/bin/ with llama-completion and the libraries beside it, models/tiny.gguf. */
function fillWorkspace(dir: string, fixtures: Fixtures): { program: string; model: string } {
  copyGgmlCpuSource(dir, fixtures);
  const from = path.dirname(fixtures.llamaCompletion);
  const bin = path.join(dir, "build", "bin");
  fs.mkdirSync(bin, { recursive: true });
  for (const name of fs.readdirSync(from).filter((n) => n === "llama-completion" || /^lib.*\.so/.test(n))) {
    const source = path.join(from, name);
    const target = path.join(bin, name);
    if (fs.lstatSync(source).isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
    else linkOrCopy(source, target);
  }
  const model = path.join(dir, "models", "tiny.gguf");
  fs.mkdirSync(path.dirname(model));
  linkOrCopy(fixtures.tinyDense, model);
  return { program: path.join(bin, "llama-completion"), model };
}

/** Installs `vsix` the way a user does, into fresh folders; the extensions folder. */
function installVsix(cleanups: Cleanup[], codeServer: string, vsix: string, pathDir: string): string {
  const state = tempDir("ggml-lens-vsix-install-");
  cleanups.push(state.remove);
  const extensions = path.join(state.path, "extensions");
  const config = path.join(state.path, "config.yaml");
  fs.writeFileSync(config, "{}\n");
  const args = ["--install-extension", vsix, `--extensions-dir=${extensions}`, `--user-data-dir=${path.join(state.path, "user-data")}`, `--config=${config}`];
  const env = { ...process.env, PATH: pathDir, XDG_CONFIG_HOME: path.join(state.path, "xdg-config"), XDG_DATA_HOME: path.join(state.path, "xdg-data") };
  const said = execFileSync(codeServer, args, { env, encoding: "utf8" });
  assert.match(said, /was successfully installed/);
  return extensions;
}

function installedExtension(extensions: string): string {
  const dirs = fs.readdirSync(extensions).filter((name) => name.startsWith("ggml-lens."));
  assert.equal(dirs.length, 1, `one ggml-lens extension in ${extensions}: ${dirs.join(", ")}`);
  return path.join(extensions, dirs[0]);
}

/** The installed extension holds the bundles and the shipped helpers, and nothing to build with. */
function checkInstalled(extension: string): void {
  for (const file of ["dist/extension.js", "dist/cli.js", "dist/webview.js", "dist/ggml-lens-probe", "dist/ggml-lens-machine", "node_modules/@lydell/node-pty-linux-x64/pty.node"]) {
    assert.ok(fs.existsSync(path.join(extension, file)), `the installed extension lacks ${file}`);
  }
  for (const absent of ["bpf", "extension", "scripts", "test", "webview", "tsconfig.json", "node_modules/.bin"]) {
    assert.ok(!fs.existsSync(path.join(extension, absent)), `the installed extension holds ${absent}`);
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

function mulMatCaseLine(workspace: string): number {
  const lines = fs.readFileSync(path.join(workspace, GGML_CPU_DIR, "ggml-cpu.c"), "utf8").split("\n");
  const dispatch = lines.findIndex((line) => line.startsWith("static void ggml_compute_forward("));
  return lines.findIndex((line, i) => i > dispatch && /^\s*case GGML_OP_MUL_MAT:/.test(line)) + 1;
}

/** What "Developer: Show Running Extensions" says of GGML Lens's activation ("Activation: 12ms"). */
async function activationTime(page: Page): Promise<string> {
  await runPaletteCommand(page, "Developer: Show Running Extensions");
  const row = page.locator(".monaco-list-row", { hasText: "GGML Lens" }).first();
  await row.waitFor({ timeout: 15_000 });
  await screenshot(page, "vsix-running-extensions.png");
  return (await row.innerText()).replace(/\s+/g, " ");
}

async function waitForLens(page: Page, prefix: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let lenses: string[] = [];
  while (!lenses.some((text) => text.startsWith(prefix)) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    lenses = await visibleCodeLenses(page);
  }
  return lenses;
}

test("the VSIX installs into a fresh code-server and profiles with its own helper, no compiler on PATH", { timeout: 420_000 }, async (t) => {
  const cleanups: Cleanup[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const fixtures = loadFixtures();
  const vsix = buildVsix();
  const scratch = tempDir("ggml-lens-vsix-");
  cleanups.push(scratch.remove);
  const pathDir = nodeOnlyPath(path.join(scratch.path, "path"));
  for (const tool of BUILD_TOOLS) assert.ok(!fs.existsSync(path.join(pathDir, tool)), `${tool} on the test's PATH`);
  const extensions = installVsix(cleanups, fixtures.codeServer, vsix, pathDir);
  const extension = installedExtension(extensions);
  checkInstalled(extension);

  const workspace = path.join(scratch.path, "workspace");
  fs.mkdirSync(workspace);
  const { program, model } = fillWorkspace(workspace, fixtures);
  const server = await startCodeServer({
    executable: fixtures.codeServer,
    workspace,
    extensionsDir: extensions,
    // No helper override: the CLI must find the one beside it in the installed extension. The
    // libraries are the workspace's copies (the binary's RUNPATH names its build folder).
    env: { PATH: pathDir, GGML_LENS_PROBE: "", GGML_LENS_MACHINE: "", LD_LIBRARY_PATH: path.dirname(program) },
  });
  cleanups.push(server.stop);
  const browser = await launchBrowser(fixtures.chromium);
  cleanups.push(browser.close);
  const { page } = browser;
  try {
    await openWorkbench(page, workbenchUrl(server));
    const terminal = await recordTerminal(page, TERMINAL);
    await runPaletteCommand(page, TITLE, 60_000);
    await pickQuickItem(page, TITLE, "Type a command line…");
    await answerInputBox(page, TITLE, tinyCompletionCommand(program, model));
    await pickQuickItem(page, "GGML Lens: what to record", "full");
    const ended = await terminal.waitForLine(/the run ended with exit status/, 180_000);
    assert.match(ended, /exit status 0/);
    await terminal.waitForLine(/^ggml-lens: wrote \//, 5_000);

    const line = mulMatCaseLine(workspace);
    await openFileAtLine(page, "ggml-cpu.c", line);
    const lenses = await waitForLens(page, "MUL_MAT ", 30_000);
    await screenshot(page, "vsix-lenses.png");
    const mulMat = lenses.find((text) => text.startsWith("MUL_MAT "));
    assert.ok(mulMat, `no MUL_MAT lens near line ${line}; lenses shown: ${JSON.stringify(lenses)}`);
    for (const text of lenses) assert.match(text, LENS);
    assert.ok(!server.output().includes("ggml-lens-probe: error"), "the helper reported no error");
    t.diagnostic(`activation as the extension host measured it: ${await activationTime(page)}`);
  } catch (error) {
    await screenshot(page, "vsix-failure.png");
    throw error;
  }
});
