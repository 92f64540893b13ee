/**
 * Sampled hot lines as decorations (a heat mark in the gutter, the share of samples at the end of
 * the line) in every workspace file the samples fall in, and "Show hottest lines" to jump to them.
 */
import * as vscode from "vscode";
import type { ProfileStore } from "../session/store";
import { bestSuffixMatch, commonSuffixLength, profiledFiles } from "../target/ggmlSource";
import { locateSources, workspaceFileOf } from "../target/workspaceSources";
import { formatShare, hotLines, type HotLine } from "./opCosts";

export const TOGGLE_HOT_LINES = "ggmlLens.toggleHotLines";
export const SHOW_HOTTEST_LINES = "ggmlLens.showHottestLines";
const ENABLED_KEY = "ggmlLens.hotLinesEnabled";
/** Heat levels, coolest first: a line's level grows with its share of the hottest line's samples. */
const HEAT = ["#f5c518", "#f59e0b", "#f97316", "#ef4444", "#dc2626"];

function gutterIcon(color: string): vscode.Uri {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect x="4" y="1" width="6" height="14" rx="2" fill="${color}"/></svg>`;
  return vscode.Uri.parse(`data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`);
}

/** A decorated line as tests and the quick pick see it (0-based line). */
export interface DecoratedLine {
  line: number;
  share: number;
  samples: number;
}

export class HotLines implements vscode.Disposable {
  private readonly levels = HEAT.map((color) =>
    vscode.window.createTextEditorDecorationType({
      gutterIconPath: gutterIcon(color),
      gutterIconSize: "contain",
      overviewRulerColor: color,
      overviewRulerLane: vscode.OverviewRulerLane.Right,
      isWholeLine: true,
      backgroundColor: `${color}1f`,
    }),
  );
  private readonly disposables: vscode.Disposable[] = [];
  private readonly applied = new Map<string, DecoratedLine[]>();

  constructor(
    private readonly store: ProfileStore,
    private readonly memento: vscode.Memento,
  ) {
    this.disposables.push(
      store.onDidChange(() => this.redraw()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.redraw()),
      vscode.commands.registerCommand(TOGGLE_HOT_LINES, () => this.toggle()),
      vscode.commands.registerCommand(SHOW_HOTTEST_LINES, () => this.pick()),
    );
    this.redraw();
  }

  get enabled(): boolean {
    return this.memento.get<boolean>(ENABLED_KEY, true);
  }

  /** The hot lines decorated in the file at `fsPath` (empty when none or turned off). */
  decorated(fsPath: string): DecoratedLine[] {
    return this.applied.get(fsPath) ?? [];
  }

  private async toggle(): Promise<boolean> {
    await this.memento.update(ENABLED_KEY, !this.enabled);
    this.redraw();
    return this.enabled;
  }

  /** The profile's hot lines that fall in `fsPath` (matched by DWARF path suffix). */
  private linesOf(fsPath: string): HotLine[] {
    const profile = this.store.selected?.profile;
    if (!profile) return [];
    const profiledPath = bestSuffixMatch(fsPath, profiledFiles(profile));
    if (!profiledPath || commonSuffixLength(profiledPath, fsPath) < 2) return [];
    return hotLines(profile).filter((hot) => hot.file === profiledPath);
  }

  private redraw(): void {
    this.applied.clear();
    for (const editor of vscode.window.visibleTextEditors) {
      const lines = this.enabled ? this.linesOf(editor.document.uri.fsPath) : [];
      const hottest = Math.max(0, ...lines.map((hot) => hot.samples));
      const byLevel = this.levels.map((): vscode.DecorationOptions[] => []);
      for (const hot of lines) {
        if (hot.line > editor.document.lineCount) continue;
        const level = Math.min(this.levels.length - 1, Math.floor((hot.samples / hottest) * this.levels.length));
        byLevel[level].push(decoration(editor.document, hot));
      }
      this.levels.forEach((type, level) => editor.setDecorations(type, byLevel[level]));
      const decorated = byLevel.flat().map((d) => d.range.start.line);
      this.applied.set(
        editor.document.uri.fsPath,
        lines.filter((hot) => decorated.includes(hot.line - 1)).map((hot) => ({ line: hot.line - 1, share: hot.share, samples: hot.samples })),
      );
    }
  }

  private async pick(): Promise<void> {
    const profile = this.store.selected?.profile;
    if (!profile) {
      void vscode.window.showInformationMessage("GGML Lens: no profile yet: run 'GGML Lens: Profile this run' or open a .ggmlprof file");
      return;
    }
    const match = await locateSources(profile);
    const items = hotLines(profile)
      .slice(0, 100)
      .map((hot) => ({ hot, file: workspaceFileOf(match, hot.file) }))
      .map(({ hot, file }) => ({
        label: `${formatShare(hot.share)}  ${hot.function.split("(")[0]}`,
        description: `${hot.file.split("/").pop()}:${hot.line}`,
        detail: file ? undefined : `${hot.file} (not in this workspace)`,
        hot,
        file,
      }));
    const chosen = await vscode.window.showQuickPick(items, { title: "GGML Lens: hottest lines (share of timer samples)", matchOnDescription: true });
    if (!chosen?.file) return;
    const position = new vscode.Position(chosen.hot.line - 1, 0);
    await vscode.window.showTextDocument(vscode.Uri.file(chosen.file), { selection: new vscode.Range(position, position) });
  }

  dispose(): void {
    this.levels.forEach((type) => type.dispose());
    this.disposables.forEach((d) => d.dispose());
  }
}

function decoration(document: vscode.TextDocument, hot: HotLine): vscode.DecorationOptions {
  const line = document.lineAt(hot.line - 1);
  return {
    range: line.range,
    hoverMessage: `GGML Lens: ${hot.samples} timer samples (${formatShare(hot.share)} of the run) in ${hot.function}`,
    renderOptions: {
      after: { contentText: `  ${formatShare(hot.share)} of samples`, color: new vscode.ThemeColor("editorCodeLens.foreground"), fontStyle: "italic" },
    },
  };
}
