import * as vscode from "vscode";
import { profileRun } from "./session/profileRun";

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand("ggmlLens.profileRun", (args?: unknown) => profileRun(context, args)));
}

export function deactivate(): void {}
