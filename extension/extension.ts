import * as vscode from "vscode";
import { profileRun } from "./session/profileRun";

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand("ggmlLens.profileRun", () => profileRun(context)));
}

export function deactivate(): void {}
