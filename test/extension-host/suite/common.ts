// What the extension host suites share: the extension's API, the fixture paths the test runner
// passes, the test workspace, and waiting for something the extension does in the background.
// Not a suite itself (index.ts runs the *.test.js files only).
import * as assert from "node:assert/strict";
import * as path from "node:path";
import * as vscode from "vscode";
import type { GgmlLensApi } from "../../../extension/extension";
import type { Fixtures } from "../../harness/fixtures";

export const EXTENSION_ID = "ggml-lens.ggml-lens";
const POLL_MS = 100;

export function fixtures(): Fixtures {
  const json = process.env.GGML_LENS_TEST_FIXTURES;
  assert.ok(json, "GGML_LENS_TEST_FIXTURES is not set: the test runner passes the fixture paths in it");
  return JSON.parse(json) as Fixtures;
}

export async function api(): Promise<GgmlLensApi> {
  const extension = vscode.extensions.getExtension<GgmlLensApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded`);
  return extension.activate();
}

/** A path in the test workspace (its folder alone when no parts are given). */
export function workspaceFile(...parts: string[]): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, "the test workspace is open");
  return path.join(folder.uri.fsPath, ...parts);
}

/** Resolves with the first value `probe` gives other than undefined; rejects after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
