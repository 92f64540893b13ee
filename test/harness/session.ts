// One VS Code test session: a temporary workspace, code-server on it and Chromium, all torn down
// after the test (whatever its outcome) in the reverse order of their start.
import type { TestContext } from "node:test";
import { launchBrowser, type Browser } from "./browser";
import { tempDir } from "./cleanup";
import { startCodeServer, type CodeServer } from "./codeServer";
import { buildExtension } from "./extensionTests";
import { loadFixtures, type Fixtures } from "./fixtures";

export interface Session {
  fixtures: Fixtures;
  server: CodeServer;
  browser: Browser;
}

type Cleanup = () => unknown;

async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, "test session cleanup failed");
}

export interface SessionOptions {
  /** Extra environment of code-server, its extension hosts and terminals. */
  env?: (fixtures: Fixtures) => Record<string, string>;
  /** Fills the (empty, temporary) workspace before code-server opens it. */
  workspace?: (dir: string, fixtures: Fixtures) => void;
}

/** Builds the extension and starts code-server and Chromium for test `t`. */
export async function startSession(t: TestContext, options: SessionOptions = {}): Promise<Session> {
  const cleanups: Cleanup[] = [];
  t.after(() => runCleanups(cleanups));
  const fixtures = loadFixtures();
  buildExtension();
  const workspace = tempDir("ggml-lens-workspace-");
  cleanups.push(workspace.remove);
  options.workspace?.(workspace.path, fixtures);
  const server = await startCodeServer({ executable: fixtures.codeServer, workspace: workspace.path, env: options.env?.(fixtures) ?? {} });
  cleanups.push(server.stop);
  const browser = await launchBrowser(fixtures.chromium);
  cleanups.push(browser.close);
  return { fixtures, server, browser };
}
