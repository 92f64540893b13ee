// Starts code-server (a real VS Code: server + web workbench) for one test and stops it with
// everything it spawned. All its state lives in a temporary directory: nothing lands in ~.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { onProcessExit, tempDir } from "./cleanup";
import { killTree, killTreeNow } from "./processTree";

export interface CodeServerOptions {
  /** The code-server launcher (fixtures' `codeServer`). */
  executable: string;
  /** Folder the workbench opens. */
  workspace: string;
  /** Extra environment for the server and so for its extension hosts and terminals. */
  env?: Record<string, string>;
  /** Extensions folder (e.g. one a VSIX was installed into); by default an empty one of its own. */
  extensionsDir?: string;
}

export interface CodeServer {
  /** http://127.0.0.1:PORT/ */
  url: URL;
  workspace: string;
  /** What the server printed so far (stdout and stderr). */
  output(): string;
  /** Kills the server's process group and every descendant, then removes its state. */
  stop(): Promise<void>;
}

/** User settings that keep the workbench quiet and deterministic under test (flags do the rest). */
const TEST_SETTINGS: Record<string, unknown> = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "terminal.integrated.gpuAcceleration": "off", // the DOM renderer, whose rows tests can read
};

const START_TIMEOUT_MS = 30_000;

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const state = tempDir("ggml-lens-code-server-");
  writeState(state.path);
  const extensionsDir = options.extensionsDir ?? path.join(state.path, "extensions");
  const child = spawn(options.executable, serverArgs(state.path, options.workspace, extensionsDir), {
    detached: true, // own process group, so that stop() reaches the extension hosts too
    env: serverEnv(state.path, options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const pid = child.pid ?? 0; // 0: it did not start, and processTree(0) is empty
  const forget = onProcessExit(() => killTreeNow(pid));
  const stop = async (): Promise<void> => {
    await killTree(pid);
    forget();
    state.remove();
  };
  try {
    const url = await waitForListening(child, () => output);
    await waitForHealth(url);
    return { url, workspace: options.workspace, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function serverArgs(state: string, workspace: string, extensionsDir: string): string[] {
  return [
    "--bind-addr=127.0.0.1:0", // the kernel picks a free port; the server prints it
    "--auth=none",
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-workspace-trust",
    `--user-data-dir=${path.join(state, "user-data")}`,
    `--extensions-dir=${extensionsDir}`,
    `--config=${path.join(state, "config.yaml")}`,
    workspace,
  ];
}

function serverEnv(state: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  // A VSCODE_IPC_HOOK_CLI inherited from a VS Code terminal would make code-server hand the
  // folder to that VS Code instead of starting: drop everything VS Code set.
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith("VSCODE_"));
  return {
    ...Object.fromEntries(inherited),
    XDG_CONFIG_HOME: path.join(state, "xdg-config"),
    XDG_DATA_HOME: path.join(state, "xdg-data"),
    XDG_CACHE_HOME: path.join(state, "xdg-cache"),
    XDG_STATE_HOME: path.join(state, "xdg-state"),
    ...extra,
  };
}

function writeState(state: string): void {
  const userDir = path.join(state, "user-data", "User");
  fs.mkdirSync(userDir, { recursive: true });
  fs.writeFileSync(path.join(userDir, "settings.json"), JSON.stringify(TEST_SETTINGS, null, 2));
  // A missing config file would be created with a generated password.
  fs.writeFileSync(path.join(state, "config.yaml"), "{}\n");
}

function waitForListening(child: ChildProcess, output: () => string): Promise<URL> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      cleanup();
      reject(new Error(`code-server did not start: ${why}\n${output()}`));
    };
    const onData = (): void => {
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output());
      if (!match) return;
      cleanup();
      resolve(new URL(match[1]));
    };
    const onExit = (code: number | null, signal: string | null): void => fail(`exited (${code ?? signal})`);
    const timer = setTimeout(() => fail(`no address after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      child.off("error", fail);
    };
    child.stdout?.on("data", onData);
    child.on("exit", onExit);
    child.on("error", (error) => fail(error.message));
  });
}

async function waitForHealth(url: URL): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const response = await fetch(new URL("healthz", url));
      if (response.ok) return;
    } catch {
      // not accepting connections yet
    }
    if (Date.now() > deadline) throw new Error(`code-server at ${url} not healthy after ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** What the workbench's `payload` query parameter can carry (VS Code's IWorkspaceProvider). */
export interface WorkbenchPayload {
  /** Absolute path on the server of an extension to load as under development. */
  extensionDevelopmentPath?: string;
  /** Absolute path on the server of a script exporting `run()`: the extension host runs it and exits. */
  extensionTestsPath?: string;
}

/** URL of the workbench on `server`'s workspace, loading the extension/tests in `payload`. */
export function workbenchUrl(server: CodeServer, payload: WorkbenchPayload = {}): URL {
  const url = new URL(server.url);
  url.searchParams.set("folder", server.workspace);
  const entries = Object.entries(payload).map(([key, file]) => [key, `vscode-remote://${server.url.host}${encodeURI(file)}`]);
  if (entries.length > 0) url.searchParams.set("payload", JSON.stringify(entries));
  return url;
}
