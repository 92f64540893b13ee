// `npm run test:electron`: the extension host suite of test/extension-host in a desktop VS Code that
// @vscode/test-electron downloads, for machines that can reach the VS Code update server (on a
// headless Linux machine, run it under xvfb-run). Where VS Code cannot be downloaded, `npm test`
// runs the same suite in code-server; GGML_LENS_VSCODE_EXECUTABLE may name a local VS Code instead.
import path from "node:path";
import { downloadAndUnzipVSCode, runTests } from "@vscode/test-electron";
import { tsImport } from "tsx/esm/api";

const VSCODE_VERSION = "1.100.3"; // the VS Code of the pinned code-server

const harness = (file) => tsImport(`../test/harness/${file}`, import.meta.url);
const { buildExtension, bundleSuite, suiteEnv } = await harness("extensionTests.ts");
const { loadFixtures, REPO } = await harness("fixtures.ts");
const { tempDir } = await harness("cleanup.ts");

async function vscodeExecutable() {
  if (process.env.GGML_LENS_VSCODE_EXECUTABLE) return process.env.GGML_LENS_VSCODE_EXECUTABLE;
  try {
    return await downloadAndUnzipVSCode(VSCODE_VERSION);
  } catch (error) {
    throw new Error(
      `could not download VS Code ${VSCODE_VERSION} (${error.message}).\n` +
        "This machine cannot reach the VS Code update server. Run 'npm test' instead: it runs the same " +
        "extension host suite in code-server. Or set GGML_LENS_VSCODE_EXECUTABLE to a local VS Code.",
    );
  }
}

async function main() {
  const fixtures = loadFixtures();
  const vscodeExecutablePath = await vscodeExecutable();
  buildExtension();
  const suite = await bundleSuite();
  const workspace = tempDir("ggml-lens-workspace-");
  try {
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: path.join(suite.path, "index.js"),
      extensionTestsEnv: suiteEnv(fixtures),
      launchArgs: [workspace.path, "--disable-extensions", "--disable-workspace-trust"],
    });
  } finally {
    workspace.remove();
    suite.remove();
  }
}

try {
  await main();
} catch (error) {
  // tsx-loaded modules have unreadable stack traces (data: URLs): the message says enough.
  console.error(`test:electron: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
