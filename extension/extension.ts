import * as vscode from "vscode";
import { profileRun } from "./session/profileRun";
import { ProfileStore } from "./session/store";
import { registerPanels } from "./views/panels";

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand("ggmlLens.profileRun", (args?: unknown) => profileRun(context, args)));
  const store = new ProfileStore();
  context.subscriptions.push(store);
  registerPanels(context, store);
}

export function deactivate(): void {}
