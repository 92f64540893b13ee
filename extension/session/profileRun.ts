import * as vscode from "vscode";

/** Result of the "Profile this run" command, returned to callers such as tests. */
export interface ProfileRunResult {
  command: string;
  exitCode: number | undefined;
}

/** Optional argument of the command: with it the command line is not asked for (tests use it). */
export interface ProfileRunArgs {
  command: string;
}

function isProfileRunArgs(value: unknown): value is ProfileRunArgs {
  return typeof value === "object" && value !== null && typeof (value as ProfileRunArgs).command === "string";
}

/**
 * "GGML Lens: Profile this run". Runs `args.command`, or the command line asked for, in a terminal.
 * `args` is whatever the caller passed (a menu passes a Uri): anything but ProfileRunArgs is ignored.
 * Recording with the probe helper is wired in by the capture work.
 */
export async function profileRun(context: vscode.ExtensionContext, args?: unknown): Promise<ProfileRunResult | undefined> {
  const command = isProfileRunArgs(args) ? args.command : await askCommandLine(context);
  if (!command) return undefined;
  await context.workspaceState.update("ggmlLens.lastCommand", command);
  const exitCode = await runInTerminal(command);
  return { command, exitCode };
}

function askCommandLine(context: vscode.ExtensionContext): Thenable<string | undefined> {
  const last = context.workspaceState.get<string>("ggmlLens.lastCommand");
  return vscode.window.showInputBox({
    title: "GGML Lens: Profile this run",
    prompt: "Command line of the ggml program to run",
    value: last ?? "",
    placeHolder: "build/bin/llama-completion -m model.gguf -p Hello -n 16",
  });
}

function runInTerminal(command: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const terminal = vscode.window.createTerminal({ name: "GGML Lens", shellPath: "/bin/sh", shellArgs: ["-c", command] });
    terminal.show(true);
    const listener = vscode.window.onDidCloseTerminal((closed) => {
      if (closed !== terminal) return;
      listener.dispose();
      resolve(closed.exitStatus?.code);
    });
  });
}
