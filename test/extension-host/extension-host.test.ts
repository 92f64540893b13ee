// Runs the mocha suite of ./suite inside the extension host of a real VS Code (code-server, driven
// from Chromium) and fails unless that suite reports success.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { bundleSuite, runExtensionTests, suiteEnv } from "../harness/extensionTests";
import { startSession } from "../harness/session";
import { copyGgmlCpuSource } from "../harness/workspace";

const SUITE_TIMEOUT_MS = 420_000;
/** Lines of mocha's spec reporter for a passed test and the counts (failures come in the assertion). */
const MOCHA_RESULT = /✔|\d+ (passing|failing|pending)/;

test("the extension host suite passes in code-server", { timeout: SUITE_TIMEOUT_MS + 30_000 }, async (t) => {
  const suite = await bundleSuite();
  t.after(suite.remove);
  const { server, browser } = await startSession(t, { env: suiteEnv, workspace: copyGgmlCpuSource });
  const result = await runExtensionTests(browser.page, server, suite, SUITE_TIMEOUT_MS);
  result.log.filter((line) => MOCHA_RESULT.test(line)).forEach((line) => t.diagnostic(line.replace(/^\w+: +/, "")));
  const logs = `workbench:\n${result.log.join("\n")}\ncode-server:\n${server.output()}`;
  assert.equal(result.code, 0, `the extension host suite failed (exit code ${result.code}); ${logs}`);
});
