// The workbench as a user drives it: "GGML Lens: Profile this run" from the command palette, a
// llama-completion command line typed into its input box, the mode picked, the run in its own
// terminal (interactive: it waits for input), then ggml-cpu.c of the workspace with the op costs
// above the op dispatch, on screen.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import {
  answerInputBox,
  openFileAtLine,
  openWorkbench,
  pickQuickItem,
  recordTerminal,
  runPaletteCommand,
  terminalInput,
  visibleCodeLenses,
} from "../harness/browser";
import { workbenchUrl } from "../harness/codeServer";
import { tinyCompletionCommand } from "../harness/commandLine";
import { REPO } from "../harness/fixtures";
import { startSession } from "../harness/session";
import { copyGgmlCpuSource, GGML_CPU_DIR } from "../harness/workspace";

const TITLE = "GGML Lens: Profile this run";
const TERMINAL = "GGML Lens: llama-completion";
const ARTIFACTS = path.join(REPO, "test", "artifacts");
/** What a lens over an op says: `MUL_MAT 48.3% · 1,392 calls · 17.7 µs avg`. */
const LENS = /^([A-Z_]+(?:\+[A-Z_]+)?) \d+\.\d% · [\d,]+ calls · [\d.]+ (?:ns|µs|ms|s) avg/;

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

/** Ctrl+D ends the run once it waits for input; pressed again while tokens are still generated. */
async function endInput(page: Page, terminal: Awaited<ReturnType<typeof recordTerminal>>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    await terminalInput(page, TERMINAL).press("Control+D");
    try {
      return await terminal.waitForLine(/the run ended with exit status/, 8_000);
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
}

/** 1-based line of `case GGML_OP_MUL_MAT:` in the op dispatch of the workspace's ggml-cpu.c. */
function mulMatCaseLine(workspace: string): number {
  const lines = fs.readFileSync(path.join(workspace, GGML_CPU_DIR, "ggml-cpu.c"), "utf8").split("\n");
  const dispatch = lines.findIndex((line) => line.startsWith("static void ggml_compute_forward("));
  return lines.findIndex((line, i) => i > dispatch && /^\s*case GGML_OP_MUL_MAT:/.test(line)) + 1;
}

test("Profile this run, from the command palette, then ggml-cpu.c shows op costs", { timeout: 240_000 }, async (t) => {
  const { fixtures, server, browser } = await startSession(t, { workspace: copyGgmlCpuSource });
  const { page } = browser;
  try {
    await openWorkbench(page, workbenchUrl(server, { extensionDevelopmentPath: REPO }));
    const terminal = await recordTerminal(page, TERMINAL);
    await runPaletteCommand(page, TITLE);
    await pickQuickItem(page, TITLE, "Type a command line…");
    // Interactive (-i): the run waits for input after its tokens; Ctrl+D ends it.
    await answerInputBox(page, TITLE, tinyCompletionCommand(fixtures.llamaCompletion, fixtures.tinyDense, ["-i"]));
    await pickQuickItem(page, "GGML Lens: what to record", "full");
    await terminal.waitForLine(/Running in interactive mode/, 90_000);
    await screenshot(page, "workbench-profile-run.png");
    const ended = await endInput(page, terminal);
    assert.match(ended, /exit status 0/);
    assert.ok(await terminalInput(page, TERMINAL).isVisible(), "the terminal stays open after the run");

    const line = mulMatCaseLine(server.workspace);
    await openFileAtLine(page, "ggml-cpu.c", line);
    const deadline = Date.now() + 30_000;
    let lenses: string[] = [];
    while (!lenses.some((text) => text.startsWith("MUL_MAT ")) && Date.now() < deadline) {
      await page.waitForTimeout(250);
      lenses = await visibleCodeLenses(page);
    }
    await screenshot(page, "workbench-lenses.png");
    const mulMat = lenses.find((text) => text.startsWith("MUL_MAT "));
    assert.ok(mulMat, `no MUL_MAT lens near line ${line}; lenses shown: ${JSON.stringify(lenses)}`);
    assert.match(mulMat, LENS);
    for (const text of lenses) assert.match(text, LENS);
  } catch (error) {
    await screenshot(page, "workbench-failure.png");
    throw error;
  }
});
