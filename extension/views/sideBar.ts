/**
 * The GGML Lens side bar: the runs of this window and the saved profiles (select one to show it
 * everywhere), and the selected run's op table sorted by cost.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import type { OpStat } from "../profile/model";
import type { ProfileEntry, ProfileStore } from "../session/store";
import { OPEN_TIMELINE, SHOW_OP_BREAKDOWN } from "./codeLens";
import { FINDINGS_ROOT, OPEN_EVIDENCE, findingsChildren, findingsTreeItem, isFindingsItem, openEvidence, type FindingsItem } from "./findingsItems";
import type { ComparisonView } from "./compare";
import { beforeAfter, changeKey } from "./compareData";
import { breakdownMarkdown, displayName, formatDuration, formatCount, formatShare } from "./opCosts";

export const SELECT_RUN = "ggmlLens.selectRun";
export const OPEN_PROFILE = "ggmlLens.openProfile";

type RunItem = { kind: "run"; entry: ProfileEntry } | { kind: "saved"; file: string };

/** Runs of the window (live first) and saved profiles not opened yet. */
export class RunsView implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly store: ProfileStore,
    private readonly savedFiles: () => Promise<string[]>,
    private readonly comparison?: ComparisonView,
  ) {
    this.subscriptions = [store.onDidChange(() => this.changed.fire(undefined))];
    if (comparison) this.subscriptions.push(comparison.onDidChange(() => this.changed.fire(undefined)));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(): Promise<RunItem[]> {
    const entries = this.store.all.sort((a, b) => Number(b.live) - Number(a.live));
    const open = new Set(entries.map((e) => e.path));
    const saved = (await this.savedFiles()).filter((file) => !open.has(file));
    return [...entries.map((entry): RunItem => ({ kind: "run", entry })), ...saved.map((file): RunItem => ({ kind: "saved", file }))];
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    if (item.kind === "saved") {
      const tree = new vscode.TreeItem(path.basename(item.file));
      tree.description = "saved";
      tree.tooltip = item.file;
      tree.iconPath = new vscode.ThemeIcon("file");
      tree.command = { title: "Open", command: OPEN_PROFILE, arguments: [vscode.Uri.file(item.file)] };
      return tree;
    }
    const { entry } = item;
    const selected = this.store.selected?.path === entry.path;
    const tree = new vscode.TreeItem(path.basename(entry.path));
    const p = entry.profile;
    const baseline = this.comparison?.baselinePath === entry.path ? " · baseline" : "";
    tree.description = `${entry.live ? "recording · " : ""}${p.tokens.tokens} tokens · ${p.header.mode || "?"}${selected ? " · shown" : ""}${baseline}`;
    tree.tooltip = `${entry.path}\n${p.header.target.argv.join(" ") || p.header.target.exe}`;
    tree.iconPath = new vscode.ThemeIcon(entry.live ? "record" : selected ? "pass-filled" : "circle-large-outline");
    tree.command = { title: "Show", command: SELECT_RUN, arguments: [entry.path] };
    return tree;
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
    this.changed.dispose();
  }
}

/** The selected run's findings, then its ops, most time first; with a baseline, each op's time before → after. */
export class OpsView implements vscode.TreeDataProvider<OpStat | FindingsItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<OpStat | FindingsItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly store: ProfileStore,
    private readonly comparison?: ComparisonView,
  ) {
    this.subscriptions = [store.onDidChange(() => this.changed.fire(undefined))];
    if (comparison) this.subscriptions.push(comparison.onDidChange(() => this.changed.fire(undefined)));
  }

  getChildren(item?: OpStat | FindingsItem): (OpStat | FindingsItem)[] {
    if (item) return isFindingsItem(item) ? findingsChildren(item, this.store.selected?.profile) : [];
    const ops = [...(this.store.selected?.profile.ops ?? [])].sort((a, b) => b.total_ns - a.total_ns);
    return this.store.selected ? [FINDINGS_ROOT, ...ops] : ops;
  }

  getTreeItem(item: OpStat | FindingsItem): vscode.TreeItem {
    if (isFindingsItem(item)) return findingsTreeItem(item);
    const stat = item;
    const tree = new vscode.TreeItem(displayName(stat));
    tree.description = `${formatShare(stat.share)} · ${formatCount(stat.calls)} calls · ${formatDuration(stat.mean_ns)} avg`;
    const profile = this.store.selected?.profile;
    const changes = profile && this.comparison?.changes(profile);
    const change = changes?.byOp.get(changeKey(stat.op, stat.fused));
    if (changes && change) tree.description += ` · ${beforeAfter(change, changes.unit)}`;
    if (profile) tree.tooltip = new vscode.MarkdownString(breakdownMarkdown(profile, stat));
    tree.command = { title: "Open", command: OP_CLICKED, arguments: [{ op: stat.op }] };
    return tree;
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
    this.changed.dispose();
  }
}

/** An op chosen in the table: the timeline filtered to it when the timeline exists, else its breakdown. */
const OP_CLICKED = "ggmlLens.opClicked";

export async function openOp(args: { op: string }): Promise<void> {
  const commands = await vscode.commands.getCommands(true);
  await vscode.commands.executeCommand(commands.includes(OPEN_TIMELINE) ? OPEN_TIMELINE : SHOW_OP_BREAKDOWN, args);
}

export function registerSideBar(store: ProfileStore, savedFiles: () => Promise<string[]>, comparison?: ComparisonView): vscode.Disposable[] {
  const runs = new RunsView(store, savedFiles, comparison);
  const ops = new OpsView(store, comparison);
  return [
    runs,
    ops,
    vscode.window.registerTreeDataProvider("ggmlLens.runs", runs),
    vscode.window.registerTreeDataProvider("ggmlLens.ops", ops),
    vscode.commands.registerCommand(SELECT_RUN, (file: string) => store.select(file)),
    vscode.commands.registerCommand(OP_CLICKED, openOp),
    vscode.commands.registerCommand(OPEN_EVIDENCE, openEvidence),
    vscode.commands.registerCommand("ggmlLens.refreshRuns", () => runs.refresh()),
  ];
}
