/**
 * "GGML Lens: Compare with…": a baseline profile that the selected profile is compared with
 * (profile/diff.ts). While there is one, the op-cost lenses add the change (`+12% vs baseline`) and
 * the side bar's op table shows before → after; "Stop comparing" ends it.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { diffProfiles, diffText, type ProfileDiff } from "../profile/diff";
import { loadProfile } from "../profile/file";
import type { Profile } from "../profile/model";
import type { ProfileStore } from "../session/store";
import { opChanges, type OpChanges } from "./compareData";

export const COMPARE = "ggmlLens.compare";
export const STOP_COMPARING = "ggmlLens.stopComparing";
export const SHOW_COMPARISON = "ggmlLens.showComparison";
/** Context key (menus' `when`): a baseline is set. */
const COMPARING = "ggmlLens.comparing";

/** What the views read of the comparison. */
export interface ComparisonView {
  readonly baselinePath: string | undefined;
  /** The changes of `profile` against the baseline; undefined without a baseline or for the baseline itself. */
  changes(profile: Profile): OpChanges | undefined;
  readonly onDidChange: vscode.Event<void>;
}

/** The command's argument when it is not to ask (tests): the baseline profile file. */
export interface CompareArgs {
  baseline: string;
}

/** Result of the command, for callers such as tests. */
export interface CompareResult {
  baseline?: string;
  error?: string;
}

function isCompareArgs(value: unknown): value is CompareArgs {
  return typeof value === "object" && value !== null && typeof (value as CompareArgs).baseline === "string";
}

export class Comparison implements ComparisonView, vscode.Disposable {
  private baseline: { path: string; profile: Profile } | undefined;
  private readonly diffs = new WeakMap<Profile, { diff: ProfileDiff; changes: OpChanges }>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly store: ProfileStore,
    private readonly savedFiles: () => Promise<string[]>,
  ) {}

  get baselinePath(): string | undefined {
    return this.baseline?.path;
  }

  changes(profile: Profile): OpChanges | undefined {
    return this.diff(profile)?.changes;
  }

  private diff(profile: Profile): { diff: ProfileDiff; changes: OpChanges } | undefined {
    if (!this.baseline || profile === this.baseline.profile) return undefined;
    let cached = this.diffs.get(profile);
    if (!cached) {
      const diff = diffProfiles(this.baseline.profile, profile);
      cached = { diff, changes: opChanges(diff) };
      this.diffs.set(profile, cached);
    }
    return cached;
  }

  /** `args` is whatever the caller passed: anything but CompareArgs asks for the baseline. */
  async compare(args?: unknown): Promise<CompareResult> {
    if (!this.store.selected) return this.fail("no profile is shown: record or open the profile to compare first, then pick its baseline");
    const file = isCompareArgs(args) ? args.baseline : await this.pickBaseline();
    if (!file) return {};
    let profile: Profile;
    try {
      profile = this.store.all.find((entry) => entry.path === file && !entry.live)?.profile ?? (await loadProfile(file));
    } catch (error) {
      return this.fail((error as Error).message);
    }
    this.setBaseline({ path: file, profile });
    return { baseline: file };
  }

  stop(): void {
    this.setBaseline(undefined);
  }

  private setBaseline(baseline: { path: string; profile: Profile } | undefined): void {
    this.baseline = baseline;
    void vscode.commands.executeCommand("setContext", COMPARING, baseline !== undefined);
    this.changed.fire();
  }

  /** The whole comparison of the selected profile as text, in an editor. */
  async show(): Promise<void> {
    const selected = this.store.selected;
    const compared = selected && this.diff(selected.profile);
    if (!selected || !compared || !this.baseline) {
      void vscode.window.showInformationMessage("GGML Lens: no comparison: pick a baseline with “Compare with…” and show another profile");
      return;
    }
    const content = diffText(this.baseline.path, selected.path, compared.diff);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content, language: "plaintext" }), { preview: true });
  }

  private fail(error: string): CompareResult {
    void vscode.window.showErrorMessage(`GGML Lens: ${error}`);
    return { error };
  }

  private async pickBaseline(): Promise<string | undefined> {
    const shown = this.store.selected?.path;
    const open = this.store.all.filter((entry) => entry.path !== shown && !entry.live).map((entry) => entry.path);
    const saved = (await this.savedFiles()).filter((file) => file !== shown && !open.includes(file));
    const items = [
      ...[...open, ...saved].map((file) => ({ label: path.basename(file), description: path.dirname(file), file })),
      { label: "Browse…", description: "a .ggmlprof file", file: undefined },
    ];
    const picked = await vscode.window.showQuickPick(items, {
      title: `GGML Lens: compare ${path.basename(shown ?? "")} with…`,
      placeHolder: "The baseline (before)",
    });
    if (!picked || picked.file) return picked?.file;
    const browsed = await vscode.window.showOpenDialog({ title: "GGML Lens: baseline profile", filters: { "GGML Lens profiles": ["ggmlprof"] }, canSelectMany: false });
    return browsed?.[0]?.fsPath;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export function registerComparison(comparison: Comparison): vscode.Disposable[] {
  return [
    comparison,
    vscode.commands.registerCommand(COMPARE, (args?: unknown) => comparison.compare(args)),
    vscode.commands.registerCommand(STOP_COMPARING, () => comparison.stop()),
    vscode.commands.registerCommand(SHOW_COMPARISON, () => comparison.show()),
  ];
}
