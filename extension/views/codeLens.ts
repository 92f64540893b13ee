/**
 * Op costs above ggml's own source: a CodeLens over each `case GGML_OP_*:` of the CPU backend's op
 * dispatch and each `ggml_compute_forward_*` definition, and the op's breakdown by type and shape
 * on hover. Computed lazily for the files VS Code asks about; redrawn when the selected profile
 * changes (a live run replaces it as it grows).
 */
import * as vscode from "vscode";
import type { OpStat, Profile } from "../profile/model";
import type { ProfileStore } from "../session/store";
import { findOpAnchors, isStale, type OpAnchor } from "../target/ggmlSource";
import { checkRecordedLines, mismatchSummary, recordedLines } from "../target/sourceLines";
import { documentSource } from "../target/workspaceSources";
import { changeKey, changeTitle, changeTooltip, type OpChanges } from "./compareData";
import { breakdownMarkdown, lensTitle, statsByOp, type OpRate } from "./opCosts";

export const OPEN_TIMELINE = "ggmlLens.openTimeline";
export const SHOW_OP_BREAKDOWN = "ggmlLens.showOpBreakdown";
const SHOW_COMPARISON = "ggmlLens.showComparison";
const SELECTOR: vscode.DocumentSelector = [
  { scheme: "file", language: "c" },
  { scheme: "file", language: "cpp" },
];
/** Live runs replace the profile often: redraw at most this often. */
const REFRESH_MS = 1000;

/** Per-op rates from the roofline analysis, when a module provides them. */
export type RateSource = (profile: Profile) => Map<string, OpRate> | undefined;
/** Per-op changes against a baseline, while the profile is compared with one. */
export type ChangeSource = (profile: Profile) => OpChanges | undefined;

/** What a document shows for the selected profile: lenses per anchor, or why it shows none. */
interface DocumentCosts {
  anchors: { anchor: OpAnchor; stats: OpStat[] }[];
  /** Set when the file is not the profiled source any more. */
  stale?: string;
}

export class OpCostLenses implements vscode.CodeLensProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private timelineRegistered = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ProfileStore,
    private readonly rates: RateSource = () => undefined,
    private readonly changes: ChangeSource = () => undefined,
  ) {
    this.disposables.push(
      vscode.languages.registerCodeLensProvider(SELECTOR, this),
      vscode.languages.registerHoverProvider(SELECTOR, this),
      store.onDidChange(() => this.scheduleRefresh()),
      this.changed,
    );
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, this.store.selected?.live ? REFRESH_MS : 0);
  }

  async refresh(): Promise<void> {
    this.timelineRegistered = (await vscode.commands.getCommands(true)).includes(OPEN_TIMELINE);
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const profile = this.store.selected?.profile;
    if (!profile) return [];
    const costs = documentCosts(profile, document);
    if (costs.stale !== undefined) {
      const line = costs.anchors[0]?.anchor.line ?? 0;
      return [new vscode.CodeLens(new vscode.Range(line, 0, line, 0), { title: costs.stale, command: "" })];
    }
    const rates = this.rates(profile);
    const changes = this.changes(profile);
    const command = this.timelineRegistered ? OPEN_TIMELINE : SHOW_OP_BREAKDOWN;
    return costs.anchors.flatMap(({ anchor, stats }) =>
      stats.flatMap((stat) => {
        const range = new vscode.Range(anchor.line, 0, anchor.line, 0);
        const lens = new vscode.CodeLens(range, {
          title: lensTitle(stat, rates?.get(stat.op)),
          tooltip: "Open the timeline filtered to this op",
          command,
          arguments: [{ op: stat.op }],
        });
        const change = changes?.byOp.get(changeKey(stat.op, stat.fused));
        if (!changes || !change) return [lens];
        return [lens, new vscode.CodeLens(range, { title: changeTitle(change), tooltip: changeTooltip(change, changes.unit), command: SHOW_COMPARISON })];
      }),
    );
  }

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const profile = this.store.selected?.profile;
    if (!profile) return undefined;
    const costs = documentCosts(profile, document);
    if (costs.stale !== undefined) return undefined;
    const here = costs.anchors.find(({ anchor }) => anchor.line === position.line);
    if (!here) return undefined;
    const markdown = here.stats.map((stat) => breakdownMarkdown(profile, stat)).join("\n\n---\n\n");
    return new vscode.Hover(new vscode.MarkdownString(markdown), document.lineAt(position.line).range);
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.disposables.forEach((d) => d.dispose());
  }
}

/** The anchors of `document` with the op stats of `profile`, or why the file gets no numbers. */
export function documentCosts(profile: Profile, document: vscode.TextDocument): DocumentCosts {
  const byOp = statsByOp(profile);
  const anchors = findOpAnchors(document.getText(), profile.header.ops)
    .map((anchor) => ({ anchor, stats: byOp.get(anchor.op) ?? [] }))
    .filter(({ stats }) => stats.length > 0);
  if (anchors.length === 0) return { anchors };
  const why = whyStale(profile, document);
  return why === undefined ? { anchors } : { anchors, stale: `GGML Lens: this file differs from the profiled build (${why}): op costs not shown; open the source the program was built from` };
}

/**
 * Why `document` is not the source the profile was built from: a line the build's DWARF names
 * (kernel definitions, the op switch's calls) that the file does not hold, or a sampled line that
 * falls in another function here; undefined when neither is found.
 */
function whyStale(profile: Profile, document: vscode.TextDocument): string | undefined {
  const recorded = recordedLines(profile, document.uri.fsPath);
  const mismatches = recorded ? checkRecordedLines(document.getText(), recorded) : [];
  if (recorded && mismatches.length > 0) return mismatchSummary(mismatches, recorded.definitions.length + recorded.calls.length);
  const { check } = documentSource(profile, document);
  if (!check || !isStale(check)) return undefined;
  const [first] = check.disagreeing;
  return `${check.disagreeing.length} sampled lines, e.g. line ${first.line} of ${first.function.split("(")[0]}, fall elsewhere here`;
}
