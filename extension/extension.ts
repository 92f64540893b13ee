import { readdirSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadProfile } from "./profile/file";
import { cachedCeilings } from "./profile/machine";
import type { Profile } from "./profile/model";
import { analyze } from "./profile/roofline";
import { ProcessAttacher } from "./session/attach";
import { argsOfConfiguration, ProfileRunner, type LaunchConfiguration } from "./session/profileRun";
import { ProfileStore } from "./session/store";
import { findOpAnchors } from "./target/ggmlSource";
import { locateSources } from "./target/workspaceSources";
import { OpCostLenses, SHOW_OP_BREAKDOWN } from "./views/codeLens";
import { Comparison, registerComparison } from "./views/compare";
import { HotLines, type DecoratedLine } from "./views/hotLines";
import { breakdownMarkdown, type OpRate } from "./views/opCosts";
import { registerPanels } from "./views/panels";
import { registerProfileEditor, type ProfileEditorState } from "./views/profileEditor";
import { registerSideBar } from "./views/sideBar";
import { RunStatus } from "./views/statusBar";
import { registerSystemCheck } from "./views/systemCheck";

/** What the extension gives other extensions and its tests (`extension.exports`). */
export interface GgmlLensApi {
  store: ProfileStore;
  /** The hot lines decorated in a file that is open in an editor. */
  hotLineDecorations(fsPath: string): DecoratedLine[];
  /** The status bar item's text. */
  statusText(): string;
  /** What the open profile editor of a .ggmlprof file shows. */
  profileEditorState(fsPath: string): ProfileEditorState | undefined;
}

export function activate(context: vscode.ExtensionContext): GgmlLensApi {
  const store = new ProfileStore();
  const status = new RunStatus(store);
  const runner = new ProfileRunner(context, store, status);
  const attacher = new ProcessAttacher(runner);
  const comparison = new Comparison(store, () => savedProfiles(runner.runsDirectory));
  const lenses = new OpCostLenses(store, opRates, (profile) => comparison.changes(profile));
  const hotLines = new HotLines(store, context.workspaceState);
  const profileEditor = registerProfileEditor(context.extensionUri, store);
  context.subscriptions.push(
    ...profileEditor.disposables,
    store,
    status,
    lenses,
    hotLines,
    vscode.commands.registerCommand("ggmlLens.profileRun", (args?: unknown) => runner.run(args)),
    vscode.commands.registerCommand("ggmlLens.attach", (args?: unknown) => attacher.attach(args)),
    vscode.commands.registerCommand("ggmlLens.stopRun", () => runner.stop()),
    vscode.commands.registerCommand(SHOW_OP_BREAKDOWN, (args?: { op?: string }) => showBreakdown(store, args?.op)),
    vscode.debug.registerDebugConfigurationProvider("ggml-lens", {
      // A ggml-lens launch configuration starts a profiled run instead of a debug session.
      resolveDebugConfiguration: (_folder, configuration) => {
        void runner.run(argsOfConfiguration(configuration as unknown as LaunchConfiguration));
        return undefined;
      },
    }),
    ...registerSideBar(store, () => savedProfiles(runner.runsDirectory), comparison),
    ...registerComparison(comparison),
    comparison.onDidChange(() => void lenses.refresh()),
    ...registerSystemCheck(context),
  );
  registerPanels(context, store);
  void lenses.refresh();
  void showStartupProfile(store);
  return {
    store,
    hotLineDecorations: (fsPath) => hotLines.decorated(fsPath),
    statusText: () => status.text,
    profileEditorState: (fsPath) => profileEditor.provider.state(fsPath),
  };
}

export function deactivate(): void {}

const ratesByProfile = new WeakMap<Profile, Map<string, OpRate>>();

/** GFLOP/s, GB/s and bound per op from the roofline analysis, against this machine's cached ceilings. */
function opRates(profile: Profile): Map<string, OpRate> {
  let rates = ratesByProfile.get(profile);
  if (!rates) {
    const analysis = analyze(profile, cachedCeilings() ?? null);
    const bound = (verdict: string): string | null => (verdict === "unknown" || verdict === "neither" ? null : verdict);
    rates = new Map(analysis.ops.map((op) => [op.op, { gflopsPerS: op.gflops, gbPerS: op.gbps, bound: bound(op.bound.verdict) }]));
    ratesByProfile.set(profile, rates);
  }
  return rates;
}

async function showBreakdown(store: ProfileStore, op: string | undefined): Promise<void> {
  const profile = store.selected?.profile;
  const stat = profile?.ops.find((s) => s.op === op);
  if (!profile || !stat) {
    void vscode.window.showInformationMessage(`GGML Lens: the selected profile has no op ${op ?? "(none given)"}`);
    return;
  }
  const document = await vscode.workspace.openTextDocument({ language: "markdown", content: breakdownMarkdown(profile, stat, 100) });
  await vscode.commands.executeCommand("markdown.showPreview", document.uri).then(undefined, () => vscode.window.showTextDocument(document));
}

async function loadIntoStore(store: ProfileStore, file: string): Promise<void> {
  try {
    store.put({ path: file, profile: await loadProfile(file), live: false });
  } catch (error) {
    void vscode.window.showErrorMessage(`GGML Lens: ${(error as Error).message}`);
  }
}

/**
 * The profile of the `ggmlLens.startupProfile` setting (`npm run demo` sets it): loaded, and the
 * workspace file with the op dispatch opened at the case of the costliest op.
 */
async function showStartupProfile(store: ProfileStore): Promise<void> {
  const file = vscode.workspace.getConfiguration("ggmlLens").get<string>("startupProfile");
  if (!file) return;
  await loadIntoStore(store, file);
  const profile = store.selected?.profile;
  if (!profile || profile.ops.length === 0) return;
  let best: { document: vscode.TextDocument; cases: ReturnType<typeof findOpAnchors> } | undefined;
  for (const source of (await locateSources(profile)).files.keys()) {
    const document = await vscode.workspace.openTextDocument(source);
    const cases = findOpAnchors(document.getText(), profile.header.ops).filter((a) => a.kind === "case");
    if (cases.length > (best?.cases.length ?? 0)) best = { document, cases };
  }
  if (!best) return;
  const costliest = profile.ops.find((stat) => !stat.fused);
  const top = best.cases.find((anchor) => anchor.op === costliest?.op);
  const position = new vscode.Position(top?.line ?? best.cases[0].line, 0);
  await vscode.window.showTextDocument(best.document, { selection: new vscode.Range(position, position) });
  vscode.window.activeTextEditor?.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenter);
}

/** Profiles saved by earlier runs of this workspace and .ggmlprof files in the workspace. */
async function savedProfiles(runsDirectory: string): Promise<string[]> {
  let runs: string[] = [];
  try {
    runs = readdirSync(runsDirectory)
      .filter((name) => name.endsWith(".ggmlprof"))
      .map((name) => path.join(runsDirectory, name));
  } catch {
    // no run yet
  }
  const inWorkspace = (await vscode.workspace.findFiles("**/*.ggmlprof", "**/node_modules/**", 100)).map((uri) => uri.fsPath);
  return [...runs.sort().reverse(), ...inWorkspace];
}
