// Builds the extension and the mocha suite of test/extension-host/suite, and runs that suite in the
// extension host of a code-server workbench opened in Chromium.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { format } from "node:util";
import * as esbuild from "esbuild";
import type { Page } from "playwright-core";
import { openWorkbench } from "./browser";
import { tempDir, type TempDir } from "./cleanup";
import { workbenchUrl, type CodeServer } from "./codeServer";
import { REPO, type Fixtures } from "./fixtures";

const SUITE_SOURCE = path.join(REPO, "test", "extension-host", "suite");

/** Bundles the extension (scripts/build.mjs) so that a test never loads a stale dist/extension.js. */
export function buildExtension(): void {
  execFileSync(process.execPath, [path.join(REPO, "scripts", "build.mjs")], { cwd: REPO, stdio: "inherit" });
}

/**
 * Bundles suite/index.ts and each suite/*.test.ts (mocha loads them one by one) into a directory of
 * its own under dist/test/, so that runs in parallel do not overwrite each other, and inside the
 * repository, so that the bundles resolve `mocha` from its node_modules. The extensionTestsPath is
 * `index.js` in there.
 */
export async function bundleSuite(): Promise<TempDir> {
  const entryPoints = fs
    .readdirSync(SUITE_SOURCE)
    .filter((name) => name.endsWith(".ts"))
    .map((name) => path.join(SUITE_SOURCE, name));
  const outdir = tempDir("extension-host-", path.join(REPO, "dist", "test"));
  await esbuild.build({
    entryPoints,
    outdir: outdir.path,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    sourcemap: "inline",
    external: ["vscode", "mocha"],
    logLevel: "warning",
  });
  return outdir;
}

/** Environment for the suite: it reads the fixture paths from GGML_LENS_TEST_FIXTURES. */
export function suiteEnv(fixtures: Fixtures): Record<string, string> {
  return { GGML_LENS_TEST_FIXTURES: JSON.stringify(fixtures) };
}

export interface ExtensionTestsResult {
  /** The extension host's exit code: 0 when run() resolved. */
  code: number;
  /** What the workbench logged through codeAutomationLog, the suite's console output included. */
  log: string[];
}

/** codeAutomationLog gets console.log's arguments (format string first) or a plain message. */
function formatLogMessage(message: unknown): string {
  return Array.isArray(message) ? format(...(message as unknown[])) : String(message);
}

/**
 * Opens the workbench with the repository as extension under development and the bundled `suite`
 * as extensionTestsPath, and resolves with the code the extension host exits with once run() settles.
 * Rejects when no code comes within `timeoutMs`.
 */
export async function runExtensionTests(page: Page, server: CodeServer, suite: TempDir, timeoutMs: number): Promise<ExtensionTestsResult> {
  const log: string[] = [];
  await page.exposeFunction("codeAutomationLog", (level: string, message: unknown) => log.push(`${level}: ${formatLogMessage(message)}`));
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  await page.exposeFunction("codeAutomationExit", (code: number) => exit(code));
  await openWorkbench(page, workbenchUrl(server, { extensionDevelopmentPath: REPO, extensionTestsPath: path.join(suite.path, "index.js") }));
  const code = await withTimeout(exited, timeoutMs, () => `no result from the extension host after ${timeoutMs} ms:\n${log.join("\n")}`);
  return { code, log };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
