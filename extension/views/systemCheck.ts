/**
 * "GGML Lens: Check system": what profiling needs from this machine (extension/profile/system.ts),
 * reported in the GGML Lens output channel. The first activation explains the needs and offers it.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { checkSystem, liveSystemView, systemReady, systemReport, type SystemCheck } from "../profile/system";

export const CHECK_SYSTEM = "ggmlLens.checkSystem";
const EXPLAINED = "ggmlLens.firstRunExplained";
const NEEDS = "GGML Lens profiles with eBPF: it needs Linux with BTF and uprobes (kernel 6.6 or newer), and root or sudo.";

export function registerSystemCheck(context: vscode.ExtensionContext): vscode.Disposable[] {
  let channel: vscode.OutputChannel | undefined;
  const run = (): SystemCheck[] => {
    channel ??= vscode.window.createOutputChannel("GGML Lens");
    return reportSystem(context, channel);
  };
  void explainOnFirstRun(context);
  return [vscode.commands.registerCommand(CHECK_SYSTEM, run), { dispose: () => channel?.dispose() }];
}

/** Runs the checks, writes the report to `channel`, shows it, and sums it up in a notification. */
function reportSystem(context: vscode.ExtensionContext, channel: vscode.OutputChannel): SystemCheck[] {
  const checks = checkSystem(liveSystemView(), path.join(context.extensionPath, "dist"));
  channel.appendLine(`System check, ${new Date().toLocaleString()}:`);
  for (const line of systemReport(checks)) channel.appendLine(line);
  channel.appendLine("");
  channel.show(true);
  const missing = checks.filter((check) => check.status === "missing");
  if (systemReady(checks)) void vscode.window.showInformationMessage("GGML Lens: this machine can profile (details in the GGML Lens output).");
  else void vscode.window.showWarningMessage(`GGML Lens: cannot profile yet: ${missing.map((check) => `${check.name}: ${check.fix ?? check.found}`).join("; ")}`);
  return checks;
}

async function explainOnFirstRun(context: vscode.ExtensionContext): Promise<void> {
  if (context.globalState.get<boolean>(EXPLAINED)) return;
  await context.globalState.update(EXPLAINED, true);
  const choice = await vscode.window.showInformationMessage(NEEDS, "Check system");
  if (choice === "Check system") await vscode.commands.executeCommand(CHECK_SYSTEM);
}
