/**
 * The status bar item: the live figures of a running recording (tokens/s, ops traced, lost events),
 * then a summary of the selected profile. Clicking it shows the GGML Lens side bar.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { figuresText, type RunFigures } from "../session/progress";
import type { ProfileStore } from "../session/store";

export const FOCUS_SIDE_BAR = "ggmlLens.ops.focus";

export class RunStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("ggmlLens.status", vscode.StatusBarAlignment.Left, 10);
  private readonly subscription: vscode.Disposable;
  private running = false;

  constructor(private readonly store: ProfileStore) {
    this.item.name = "GGML Lens";
    this.item.command = FOCUS_SIDE_BAR;
    this.subscription = store.onDidChange(() => this.showSelected());
    this.showSelected();
  }

  /** Text shown now (tests read it). */
  get text(): string {
    return this.item.text;
  }

  showRunning(figures: RunFigures, program: string): void {
    this.running = true;
    this.item.text = `$(record) GGML Lens: ${figuresText(figures)}`;
    this.item.tooltip = `Profiling ${program}: llama_decode calls per second, op spans traced, events lost. Ctrl-C in its terminal ends the run and keeps the profile.`;
    this.item.show();
  }

  stopped(): void {
    this.running = false;
    this.showSelected();
  }

  private showSelected(): void {
    if (this.running) return;
    const entry = this.store.selected;
    if (!entry) {
      this.item.hide();
      return;
    }
    const p = entry.profile;
    const top = p.ops[0];
    this.item.text = `$(pulse) GGML Lens: ${p.tokens.tokens} tokens · ${p.lostEvents ?? "?"} lost${top ? ` · ${top.op} ${(top.share * 100).toFixed(0)}%` : ""}`;
    this.item.tooltip = `${path.basename(entry.path)}: ${p.spans.count} op spans on ${p.threads.length} threads`;
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
