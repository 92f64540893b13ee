import * as vscode from "vscode";

/** Result of the "Profile this run" command, returned to callers such as tests. */
export interface ProfileRunResult {
  command: string;
  exitCode: number | undefined;
}

/**
 * "GGML Lens: Profile this run". Asks for the command line to run and runs it in a terminal.
 * Recording with the probe helper is wired in by the capture work.
 */
export async function profileRun(context: vscode.ExtensionContext): Promise<ProfileRunResult | undefined> {
  const last = context.workspaceState.get<string>("ggmlLens.lastCommand");
  const command = await vscode.window.showInputBox({
    title: "GGML Lens: Profile this run",
    prompt: "Command line of the ggml program to run",
    value: last ?? "",
    placeHolder: "build/bin/llama-completion -m model.gguf -p Hello -n 16",
  });
  if (!command) return undefined;
  await context.workspaceState.update("ggmlLens.lastCommand", command);
  const exitCode = await runInTerminal(command);
  return { command, exitCode };
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
