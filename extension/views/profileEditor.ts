/**
 * Saved profiles in the editor: `.ggmlprof` files open in a read-only custom editor that loads the
 * profile, puts it in the store (so lenses, hot lines and the side bar show it) and shows its
 * timeline with the webview panels' own page. A file that cannot be read shows the loader's error.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { loadProfile } from "../profile/file";
import type { Profile } from "../profile/model";
import { ProfileStore, type ProfileEntry } from "../session/store";
import { OPEN_TIMELINE } from "./codeLens";
import { contentSecurityPolicy, newNonce } from "./panelHtml";
import { hostPanel } from "./panels";
import { OPEN_PROFILE } from "./sideBar";

export const PROFILE_EDITOR = "ggmlLens.profileEditor";

type Loaded = { profile: Profile; error?: undefined } | { profile?: undefined; error: string };

class ProfileDocument implements vscode.CustomDocument {
  constructor(
    readonly uri: vscode.Uri,
    readonly loaded: Loaded,
  ) {}

  dispose(): void {}
}

/** What an open profile editor shows, for tests. */
export interface ProfileEditorState {
  /** The loader's error, when the file could not be opened. */
  error?: string;
  /** The webview's page. */
  html: string;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A page without scripts that says why the file did not open. */
export function errorPage(cspSource: string, file: string, error: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(cspSource, newNonce()))}">
<title>${escapeHtml(path.basename(file))}</title>
</head>
<body>
<h2>GGML Lens cannot open this profile</h2>
<p role="alert">${escapeHtml(error)}</p>
</body>
</html>
`;
}

export class ProfileEditorProvider implements vscode.CustomReadonlyEditorProvider<ProfileDocument> {
  private readonly states = new Map<string, ProfileEditorState>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: ProfileStore,
  ) {}

  /** The state of the open editor of `fsPath`, if one is open. */
  state(fsPath: string): ProfileEditorState | undefined {
    return this.states.get(fsPath);
  }

  async openCustomDocument(uri: vscode.Uri): Promise<ProfileDocument> {
    if (uri.scheme !== "file") return new ProfileDocument(uri, { error: `${uri.toString()}: not a file on disk; GGML Lens opens profiles from files` });
    try {
      return new ProfileDocument(uri, { profile: await loadProfile(uri.fsPath) });
    } catch (error) {
      return new ProfileDocument(uri, { error: (error as Error).message });
    }
  }

  resolveCustomEditor(document: ProfileDocument, webviewPanel: vscode.WebviewPanel): void {
    const file = document.uri.fsPath;
    const { profile, error } = document.loaded;
    if (!profile) {
      webviewPanel.webview.options = { enableScripts: false };
      webviewPanel.webview.html = errorPage(webviewPanel.webview.cspSource, file, error);
      this.track(file, webviewPanel, { error, html: webviewPanel.webview.html });
      return;
    }
    const entry: ProfileEntry = { path: file, profile, live: false };
    this.store.put(entry);
    // The editor keeps showing its own file whichever run the views select.
    const own = new ProfileStore();
    own.put(entry);
    const panel = hostPanel(this.extensionUri, "timeline", webviewPanel, own, (op) => void vscode.commands.executeCommand(OPEN_TIMELINE, { op }));
    const focus = webviewPanel.onDidChangeViewState(({ webviewPanel: shown }) => shown.active && this.show(entry));
    this.track(file, webviewPanel, { html: webviewPanel.webview.html }, [panel, own, focus]);
  }

  /** Makes the editor's profile the one the views show again. */
  private show(entry: ProfileEntry): void {
    if (this.store.all.some((e) => e.path === entry.path)) this.store.select(entry.path);
    else this.store.put(entry);
  }

  private track(file: string, webviewPanel: vscode.WebviewPanel, state: ProfileEditorState, disposables: vscode.Disposable[] = []): void {
    this.states.set(file, state);
    webviewPanel.onDidDispose(() => {
      this.states.delete(file);
      disposables.forEach((d) => d.dispose());
    });
  }
}

/** "Open profile…": `uri`, or a file asked for, in the profile editor. */
async function openProfile(uri: vscode.Uri | undefined): Promise<void> {
  const picked = uri ?? (await vscode.window.showOpenDialog({ title: "GGML Lens: open a profile", filters: { "GGML Lens profiles": ["ggmlprof"] }, canSelectMany: false }))?.[0];
  if (picked) await vscode.commands.executeCommand("vscode.openWith", picked, PROFILE_EDITOR);
}

export function registerProfileEditor(extensionUri: vscode.Uri, store: ProfileStore): { provider: ProfileEditorProvider; disposables: vscode.Disposable[] } {
  const provider = new ProfileEditorProvider(extensionUri, store);
  return {
    provider,
    disposables: [
      vscode.window.registerCustomEditorProvider(PROFILE_EDITOR, provider, { webviewOptions: { retainContextWhenHidden: true } }),
      vscode.commands.registerCommand(OPEN_PROFILE, (uri?: unknown) => openProfile(uri instanceof vscode.Uri ? uri : undefined)),
    ],
  };
}
