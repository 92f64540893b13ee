/**
 * The webview panels (timeline, roofline, computation graph, MoE routing, counters, offload): one panel per kind, showing
 * the profile selected in the ProfileStore and redrawn when it changes (throttled while a run goes on).
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { loadProfile } from "../profile/file";
import type { ProfileStore, ProfileEntry } from "../session/store";
import { isWebviewMessage, type HostMessage, type PanelKind, type WebviewMessage } from "../../webview/protocol";
import { panelHtml } from "./panelHtml";
import { panelMessage } from "./panelData";
import { revealOpSource } from "./revealOp";

/** Optional argument of the panel commands. */
export interface PanelArgs {
  /** Timeline: show only this op (e.g. "MUL_MAT"). */
  op?: string;
  /** A profile file to load into the store and show. */
  file?: string;
}

const TITLES: Record<PanelKind, string> = {
  timeline: "GGML Lens: Timeline",
  roofline: "GGML Lens: Roofline",
  graph: "GGML Lens: Computation graph",
  experts: "GGML Lens: MoE routing",
  counters: "GGML Lens: Counters",
  offload: "GGML Lens: Offload",
};

const COMMANDS: Record<PanelKind, string> = {
  timeline: "ggmlLens.openTimeline",
  roofline: "ggmlLens.openRoofline",
  graph: "ggmlLens.openGraph",
  experts: "ggmlLens.openExperts",
  counters: "ggmlLens.openCounters",
  offload: "ggmlLens.openOffload",
};

/** A live profile is redrawn at most this often. */
const LIVE_REFRESH_MS = 1000;

function isPanelArgs(value: unknown): value is PanelArgs {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (v.op === undefined || typeof v.op === "string") && (v.file === undefined || typeof v.file === "string");
}

export class Panel implements vscode.Disposable {
  private ready = false;
  private pendingOp: string | undefined;
  private graphSignature: string | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly kind: PanelKind,
    readonly panel: vscode.WebviewPanel,
    private readonly store: ProfileStore,
    private readonly openTimeline: (op: string) => void,
  ) {
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => isWebviewMessage(m) && this.receive(m)),
      store.onDidChange((entry) => this.scheduleRefresh(entry)),
    );
  }

  filterOp(op: string): void {
    this.pendingOp = op;
    if (this.ready) this.flushFilter();
  }

  private receive(message: WebviewMessage): void {
    switch (message.type) {
      case "ready":
        this.ready = true;
        this.refresh();
        this.flushFilter();
        break;
      case "revealOp":
        void revealOpSource(message.op, this.store.selected?.profile);
        break;
      case "selectGraph":
        this.graphSignature = message.signature;
        this.refresh();
        break;
      case "openTimeline":
        this.openTimeline(message.op);
        break;
    }
  }

  private flushFilter(): void {
    if (this.pendingOp === undefined) return;
    void this.post({ type: "filterOp", op: this.pendingOp });
    this.pendingOp = undefined;
  }

  private scheduleRefresh(entry: ProfileEntry | undefined): void {
    if (!this.ready || this.refreshTimer) return;
    const wait = entry?.live ? Math.max(0, this.lastSent + LIVE_REFRESH_MS - Date.now()) : 0;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, wait);
  }

  private refresh(): void {
    this.lastSent = Date.now();
    const entry = this.store.selected;
    if (!entry) {
      void this.post({ type: "empty", message: "No profile yet: run “GGML Lens: Profile this run”, or open a .ggmlprof file with this command." });
      return;
    }
    this.panel.title = `${TITLES[this.kind].replace("GGML Lens: ", "")}: ${path.basename(entry.path)}`;
    void this.post(panelMessage(this.kind, entry, { graphSignature: this.graphSignature }));
  }

  private post(message: HostMessage): Thenable<boolean> {
    return this.panel.webview.postMessage(message);
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }
}

class Panels implements vscode.Disposable {
  private readonly open = new Map<PanelKind, Panel>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly store: ProfileStore,
  ) {}

  async show(kind: PanelKind, args: unknown): Promise<void> {
    const options = isPanelArgs(args) ? args : {};
    if (options.file) await this.load(options.file);
    else if (!this.store.selected && !(await this.pickProfile())) return;
    const panel = this.open.get(kind) ?? this.create(kind);
    panel.panel.reveal();
    if (kind === "timeline" && options.op) panel.filterOp(options.op);
  }

  private create(kind: PanelKind): Panel {
    const webviewPanel = vscode.window.createWebviewPanel(`ggmlLens.${kind}`, TITLES[kind], vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
    });
    const panel = hostPanel(this.context.extensionUri, kind, webviewPanel, this.store, (op) => void this.show("timeline", { op }));
    this.open.set(kind, panel);
    webviewPanel.onDidDispose(() => {
      panel.dispose();
      this.open.delete(kind);
    });
    return panel;
  }

  /** No profile yet: offers to open a file. */
  private async pickProfile(): Promise<boolean> {
    const picked = await vscode.window.showOpenDialog({
      title: "GGML Lens: open a profile",
      canSelectMany: false,
      filters: { "GGML Lens profiles": ["ggmlprof"] },
    });
    if (!picked?.[0]) return false;
    return this.load(picked[0].fsPath);
  }

  private async load(file: string): Promise<boolean> {
    try {
      this.store.put({ path: file, profile: await loadProfile(file), live: false });
      return true;
    } catch (err) {
      void vscode.window.showErrorMessage(`GGML Lens: ${(err as Error).message}`);
      return false;
    }
  }

  dispose(): void {
    for (const panel of this.open.values()) panel.panel.dispose();
  }
}

/**
 * Shows the selected profile of `store` as a `kind` panel in `webviewPanel`: one of these panels, or
 * the webview of a custom editor (which gives a store of its own).
 */
export function hostPanel(
  extensionUri: vscode.Uri,
  kind: PanelKind,
  webviewPanel: vscode.WebviewPanel,
  store: ProfileStore,
  openTimeline: (op: string) => void,
): Panel {
  const dist = vscode.Uri.joinPath(extensionUri, "dist");
  const webview = webviewPanel.webview;
  webview.options = { enableScripts: true, localResourceRoots: [dist] };
  webview.html = panelHtml(kind, TITLES[kind], {
    cspSource: webview.cspSource,
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, "webview.js")).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, "webview.css")).toString(),
  });
  return new Panel(kind, webviewPanel, store, openTimeline);
}

/** Registers the panel commands; each accepts an optional PanelArgs. */
export function registerPanels(context: vscode.ExtensionContext, store: ProfileStore): void {
  const panels = new Panels(context, store);
  context.subscriptions.push(panels);
  for (const [kind, command] of Object.entries(COMMANDS) as [PanelKind, string][]) {
    context.subscriptions.push(vscode.commands.registerCommand(command, (args?: unknown) => panels.show(kind, args)));
  }
}
