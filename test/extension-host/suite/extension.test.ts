// Runs inside the extension host of a real VS Code (see ../extension-host.test.ts).
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { ProfileRunResult } from "../../../extension/session/profileRun";
import { tinyCompletionCommand } from "../../harness/commandLine";
import type { Fixtures } from "../../harness/fixtures";

const EXTENSION_ID = "ggml-lens.ggml-lens";
const PROFILE_RUN = "ggmlLens.profileRun";

function fixtures(): Fixtures {
  const json = process.env.GGML_LENS_TEST_FIXTURES;
  assert.ok(json, "GGML_LENS_TEST_FIXTURES is not set: the test runner passes the fixture paths in it");
  return JSON.parse(json) as Fixtures;
}

function profileRun(command: string): Thenable<ProfileRunResult | undefined> {
  return vscode.commands.executeCommand<ProfileRunResult | undefined>(PROFILE_RUN, { command });
}

suite("GGML Lens in the extension host", () => {
  test("the extension is installed and activates", async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  test("registers the Profile this run command", async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes(PROFILE_RUN), `${PROFILE_RUN} is not registered`);
  });

  test("profiles llama-completion on the tiny dense model and reports its exit code 0", async () => {
    const { llamaCompletion, tinyDense } = fixtures();
    const command = tinyCompletionCommand(llamaCompletion, tinyDense);
    assert.deepEqual(await profileRun(command), { command, exitCode: 0 });
  });

  test("reports the exit code of a run that fails", async () => {
    assert.deepEqual(await profileRun("exit 3"), { command: "exit 3", exitCode: 3 });
  });
});
