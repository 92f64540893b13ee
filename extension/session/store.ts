import * as vscode from "vscode";
import type { Profile } from "../profile/model";

/** A profile the editor knows: a finished or running recording, or a saved file that was opened. */
export interface ProfileEntry {
  /** The profile file (for a running recording, the file being written). */
  path: string;
  profile: Profile;
  /** Still recording: the profile grows and is replaced as the run goes on. */
  live: boolean;
}

/**
 * The profiles of this window and which one the views show. Views (CodeLens, hot lines, side bar,
 * webview panels) read `selected` and redraw on `onDidChange`; runs and "open profile" write it.
 */
export class ProfileStore implements vscode.Disposable {
  private readonly entries = new Map<string, ProfileEntry>();
  private selectedPath: string | undefined;
  private readonly changed = new vscode.EventEmitter<ProfileEntry | undefined>();
  /** Fires with the selected entry whenever it, or the selection, changes. */
  readonly onDidChange = this.changed.event;

  get selected(): ProfileEntry | undefined {
    return this.selectedPath === undefined ? undefined : this.entries.get(this.selectedPath);
  }

  get all(): ProfileEntry[] {
    return [...this.entries.values()];
  }

  /** Adds or replaces the entry for `entry.path` and selects it. */
  put(entry: ProfileEntry): void {
    this.entries.set(entry.path, entry);
    this.selectedPath = entry.path;
    this.changed.fire(entry);
  }

  select(path: string): void {
    if (!this.entries.has(path)) return;
    this.selectedPath = path;
    this.changed.fire(this.selected);
  }

  remove(path: string): void {
    if (!this.entries.delete(path)) return;
    if (this.selectedPath === path) this.selectedPath = this.entries.keys().next().value;
    this.changed.fire(this.selected);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
