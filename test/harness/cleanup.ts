// Cleanup that must happen even when a test process ends early: Ctrl+C and SIGTERM end it without
// running node:test's `after` hooks, and a detached code-server would outlive it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const atExit = new Set<() => void>();

function runAtExit(): void {
  for (const cleanup of [...atExit].reverse()) {
    try {
      cleanup();
    } catch {
      // the process is ending: do the rest
    }
  }
}

function exitOnSignal(signal: NodeJS.Signals): void {
  process.exit(128 + os.constants.signals[signal]); // runs the "exit" handlers
}

function listen(on: boolean): void {
  const method = on ? "on" : "off";
  process[method]("exit", runAtExit);
  process[method]("SIGINT", exitOnSignal);
  process[method]("SIGTERM", exitOnSignal);
}

/**
 * Runs the synchronous `cleanup` when this process exits, by SIGINT or SIGTERM too, last registered
 * first. Returns the function that cancels it (once the cleanup was done the normal way).
 */
export function onProcessExit(cleanup: () => void): () => void {
  if (atExit.size === 0) listen(true);
  atExit.add(cleanup);
  return () => {
    atExit.delete(cleanup);
    if (atExit.size === 0) listen(false);
  };
}

export interface TempDir {
  path: string;
  remove(): void;
}

/** A new directory `parent/prefixXXXXXX`, removed by remove() or else when this process exits. */
export function tempDir(prefix: string, parent = os.tmpdir()): TempDir {
  fs.mkdirSync(parent, { recursive: true });
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  const removeNow = (): void => fs.rmSync(dir, { recursive: true, force: true });
  const cancel = onProcessExit(removeNow);
  return {
    path: dir,
    remove: () => {
      removeNow();
      cancel();
    },
  };
}
