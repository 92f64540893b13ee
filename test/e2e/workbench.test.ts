// The workbench as a user drives it: "GGML Lens: Profile this run" from the command palette, a
// llama-completion command line typed into its input box, the run in the "GGML Lens" terminal.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { answerInputBox, openWorkbench, recordTerminal, runPaletteCommand, terminalInput } from "../harness/browser";
import { workbenchUrl } from "../harness/codeServer";
import { tinyCompletionCommand } from "../harness/commandLine";
import { REPO } from "../harness/fixtures";
import { startSession } from "../harness/session";

const TITLE = "GGML Lens: Profile this run";
const TERMINAL = "GGML Lens";
const ARTIFACTS = path.join(REPO, "test", "artifacts");

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

/** Ctrl+D ends the run once it waits for input; pressed again while tokens are still generated. */
async function endInput(page: Page, terminal: Awaited<ReturnType<typeof recordTerminal>>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    await terminalInput(page, TERMINAL).press("Control+D");
    try {
      return await terminal.waitForLine(/total time = .*tokens/, 6_000);
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
}

test("Profile this run, from the command palette, runs llama-completion in a terminal", { timeout: 120_000 }, async (t) => {
  const { fixtures, server, browser } = await startSession(t);
  const { page } = browser;
  try {
    await openWorkbench(page, workbenchUrl(server, { extensionDevelopmentPath: REPO }));
    const terminal = await recordTerminal(page, TERMINAL);
    await runPaletteCommand(page, TITLE);
    // Interactive (-i): the run waits for input after its tokens and so stays on screen. A run
    // that exits closes its terminal at once (VS Code disposes of it), too soon to be seen reliably.
    await answerInputBox(page, TITLE, tinyCompletionCommand(fixtures.llamaCompletion, fixtures.tinyDense, ["-i"]));
    await terminal.waitForLine(/Running in interactive mode/, 30_000);
    await terminal.waitForLine(/^Hello/, 10_000); // the prompt, then the generated tokens
    await screenshot(page, "workbench-profile-run.png");
    await endInput(page, terminal); // the run ends with llama-completion's closing report
    await terminalInput(page, TERMINAL).waitFor({ state: "detached", timeout: 10_000 });
    const exitAlerts = page.locator(".notifications-toasts", { hasText: "terminated with exit code" });
    assert.equal(await exitAlerts.count(), 0, "VS Code reported a non-zero exit code of the run");
  } catch (error) {
    await screenshot(page, "workbench-failure.png");
    throw error;
  }
});
