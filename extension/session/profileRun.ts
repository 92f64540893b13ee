/**
 * "GGML Lens: Profile this run": pick what to run and the mode, record it in a terminal, show its
 * figures while it runs, and load the profile into the store at the end (Ctrl-C or Stop included).
 */
import { mkdirSync, statSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadProfile } from "../profile/file";
import { locateSources } from "../target/workspaceSources";
import type { RunStatus } from "../views/statusBar";
import { CommandLineError, joinCommandLine, splitCommandLine } from "./commandLine";
import { cannotProfileReason } from "./platform";
import { Recording, type Elevation, type Mode, type RecordingOptions, type RecordingOutcome } from "./recording";
import type { ProfileStore } from "./store";

/** Result of the command, returned to callers such as tests. */
export interface ProfileRunResult {
  command: string;
  exitCode: number | undefined;
  /** The profile loaded into the store, when the run left one. */
  profile?: string;
  /** Why there is no profile, or what is wrong with the request. */
  error?: string;
  /** Workspace files found to be the profiled source (where lenses go). */
  sources?: string[];
}

/** How to record, whatever the target. */
export interface RecordSettings {
  mode?: Mode;
  /** More `ggml-lens record` options, e.g. ["--sample-hz", "999"]. */
  recordArgs?: string[];
  out?: string;
  cwd?: string;
}

/** The command's argument when it is not to ask anything (tests, launch.json configurations). */
export interface ProfileRunArgs extends RecordSettings {
  /** A command line (one program and its arguments), or `argv`. */
  command?: string;
  argv?: string[];
}

/** What a recording profiles: a program to start (`argv`), or a running process (`attach`). */
export type RecordTarget = Pick<RecordingOptions, "argv" | "attach">;

const MODES: { mode: Mode; detail: string }[] = [
  { mode: "default", detail: "token, graph, thread and sampling probes; ops traced in windows of whole llama_decode calls (lowest overhead)" },
  { mode: "full", detail: "every op of every token (the most detail, the most overhead)" },
  { mode: "sample", detail: "timer samples, tokens and graphs only; no op probes" },
];
const LAST_COMMANDS = "ggmlLens.lastCommands";
const LAST_MODE = "ggmlLens.lastMode";
const EXCLUDE = "{**/node_modules/**,**/.git/**}";
const LIVE_RELOAD_MS = 1000;

function isProfileRunArgs(value: unknown): value is ProfileRunArgs {
  if (typeof value !== "object" || value === null) return false;
  const args = value as ProfileRunArgs;
  return typeof args.command === "string" || Array.isArray(args.argv);
}

export class ProfileRunner {
  private current: Recording | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly store: ProfileStore,
    private readonly status: RunStatus,
  ) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  /** Ends the current run as Ctrl-C does; its profile is kept. */
  stop(): void {
    this.current?.stop();
  }

  /** `args` is whatever the caller passed (a menu passes a Uri): anything but ProfileRunArgs asks. */
  async run(args?: unknown): Promise<ProfileRunResult | undefined> {
    const request = isProfileRunArgs(args) ? args : await this.ask();
    if (!request) return undefined;
    let argv: string[];
    try {
      argv = request.argv ?? splitCommandLine(request.command ?? "");
    } catch (error) {
      if (!(error instanceof CommandLineError)) throw error;
      return this.refuse(request.command ?? "", error.message);
    }
    const command = joinCommandLine(argv);
    if (argv.length === 0) return this.refuse(command, "no program given: type the program to profile and its arguments");
    const unable = this.cannotRecordNow();
    if (unable) return this.refuse(command, unable);
    await this.remember(command, request.mode);
    return this.record(command, path.basename(argv[0]), { argv }, request);
  }

  /** Why no recording can start now (not Linux, a run going on), or undefined. */
  cannotRecordNow(): string | undefined {
    if (this.current) return "a run is already being profiled: stop it first (Ctrl-C in its terminal)";
    return cannotProfileReason();
  }

  refuse(command: string, error: string): ProfileRunResult {
    void vscode.window.showErrorMessage(`GGML Lens: ${error}`);
    return { command, exitCode: undefined, error };
  }

  /**
   * Records `target` in a terminal named after `name`, with the live status bar, progress and Stop,
   * and loads the profile into the store. Callers check cannotRecordNow() first.
   */
  async record(command: string, name: string, target: RecordTarget, request: RecordSettings): Promise<ProfileRunResult> {
    const out = request.out ?? this.newProfilePath(name);
    const recording = new Recording(`GGML Lens: ${name}`, {
      ...target,
      mode: request.mode ?? this.context.workspaceState.get<Mode>(LAST_MODE, "default"),
      out,
      cwd: request.cwd ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(out),
      elevation: vscode.workspace.getConfiguration("ggmlLens").get<Elevation>("elevation", "sudo"),
      recordArgs: request.recordArgs ?? [],
      cli: path.join(this.context.extensionPath, "dist", "cli.js"),
    });
    this.current = recording;
    recording.terminal.show(true);
    const live = this.followLive(out);
    const figures = recording.onFigures((f) => this.status.showRunning(f, name));
    this.status.showRunning(recording.figuresNow, name);
    let outcome: RecordingOutcome;
    try {
      outcome = await this.withProgress(recording, name);
    } finally {
      live.dispose();
      figures.dispose();
      this.current = undefined;
      this.status.stopped();
    }
    return this.finish(command, out, outcome);
  }

  private withProgress(recording: Recording, program: string): Promise<RecordingOutcome> {
    const options = { location: vscode.ProgressLocation.Notification, title: `GGML Lens: profiling ${program}`, cancellable: true };
    return Promise.resolve(
      vscode.window.withProgress(options, (progress, cancel) => {
        cancel.onCancellationRequested(() => recording.stop());
        const update = recording.onFigures((f) => progress.report({ message: `${f.tokensPerSecond?.toFixed(0) ?? "…"} tok/s, ${f.ops} ops, ${f.lost} lost` }));
        return recording.done.finally(() => update.dispose());
      }),
    );
  }

  /** Loads the profile as the file grows, so that the views follow the run. */
  private followLive(out: string): vscode.Disposable {
    let loadedSize = 0;
    let busy = false;
    const timer = setInterval(() => {
      const size = statSync(out, { throwIfNoEntry: false })?.size ?? 0;
      if (busy || size <= loadedSize) return;
      busy = true;
      loadProfile(out)
        .then((profile) => {
          loadedSize = size;
          if (this.current) this.store.put({ path: out, profile, live: true });
        })
        .catch(() => undefined) // the header may not be complete yet: try again
        .finally(() => (busy = false));
    }, LIVE_RELOAD_MS);
    return new vscode.Disposable(() => clearInterval(timer));
  }

  private async finish(command: string, out: string, outcome: RecordingOutcome): Promise<ProfileRunResult> {
    let profile;
    try {
      profile = await loadProfile(out);
    } catch (error) {
      this.store.remove(out);
      const why = outcome.failure ?? (error as Error).message;
      void vscode.window.showErrorMessage(`GGML Lens: the run left no profile: ${why}`);
      return { command, exitCode: outcome.exitCode, error: why };
    }
    this.store.put({ path: out, profile, live: false });
    const sources = await locateSources(profile);
    if (sources.method === "none") {
      void vscode.window.showInformationMessage(
        "GGML Lens: no ggml source of this program is in the workspace, so op costs have no lines to go on; " +
          "open the llama.cpp (ggml) checkout it was built from as the workspace. The side bar shows the op table.",
      );
    }
    return { command, exitCode: outcome.exitCode, profile: out, sources: [...sources.files.keys()].sort() };
  }

  private newProfilePath(name: string): string {
    const dir = path.join((this.context.storageUri ?? this.context.globalStorageUri).fsPath, "runs");
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
    return path.join(dir, `${name.replace(/[^\w.-]+/g, "-")}-${stamp}.ggmlprof`);
  }

  /** The directory new profiles go to. */
  get runsDirectory(): string {
    return path.join((this.context.storageUri ?? this.context.globalStorageUri).fsPath, "runs");
  }

  private async remember(command: string, mode: Mode | undefined): Promise<void> {
    const last = this.context.workspaceState.get<string[]>(LAST_COMMANDS, []).filter((c) => c !== command);
    await this.context.workspaceState.update(LAST_COMMANDS, [command, ...last].slice(0, 5));
    if (mode) await this.context.workspaceState.update(LAST_MODE, mode);
  }

  // ---- asking --------------------------------------------------------------------------------

  private async ask(): Promise<ProfileRunArgs | undefined> {
    const target = await this.pickTarget();
    if (!target) return undefined;
    if (target.mode) return target;
    const mode = await this.pickMode();
    return mode ? { ...target, mode } : undefined;
  }

  private async pickTarget(): Promise<ProfileRunArgs | undefined> {
    type Item = vscode.QuickPickItem & { pick: () => Promise<ProfileRunArgs | undefined> };
    const items: Item[] = [
      ...this.context.workspaceState
        .get<string[]>(LAST_COMMANDS, [])
        .map((command): Item => ({ label: command, description: "last run", pick: () => this.editCommandLine(command) })),
      ...launchConfigurations().map(
        (c): Item => ({ label: c.name, description: "launch.json", pick: () => Promise.resolve(argsOfConfiguration(c)) }),
      ),
      ...(await workspaceBinaries()).map(
        (bin): Item => ({ label: vscode.workspace.asRelativePath(bin), description: "llama.cpp program", pick: () => this.commandFor(bin) }),
      ),
      { label: "Type a command line…", pick: () => this.editCommandLine("") },
    ];
    const chosen = await vscode.window.showQuickPick(items, { title: "GGML Lens: Profile this run", placeHolder: "What to run" });
    return chosen?.pick();
  }

  private async commandFor(binary: string): Promise<ProfileRunArgs | undefined> {
    const models = await vscode.workspace.findFiles("**/*.gguf", EXCLUDE, 100);
    let model = "model.gguf";
    if (models.length > 0) {
      const chosen = await vscode.window.showQuickPick(
        models.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), file: uri.fsPath })),
        { title: "GGML Lens: model to run" },
      );
      if (!chosen) return undefined;
      model = chosen.file;
    }
    return this.editCommandLine(joinCommandLine([binary, "-m", model, "-p", "Hello", "-n", "64", "-no-cnv"]));
  }

  private async editCommandLine(value: string): Promise<ProfileRunArgs | undefined> {
    const command = await vscode.window.showInputBox({
      title: "GGML Lens: Profile this run",
      prompt: "The program to profile and its arguments",
      value,
      placeHolder: "build/bin/llama-completion -m model.gguf -p Hello -n 64 -no-cnv",
    });
    return command ? { command } : undefined;
  }

  async pickMode(): Promise<Mode | undefined> {
    const last = this.context.workspaceState.get<Mode>(LAST_MODE, "default");
    const items = MODES.map((m) => ({ label: m.mode, detail: m.detail, picked: m.mode === last }));
    items.sort((a, b) => Number(b.picked) - Number(a.picked));
    return (await vscode.window.showQuickPick(items, { title: "GGML Lens: what to record" }))?.label as Mode | undefined;
  }
}

/** A `ggml-lens` configuration of launch.json. */
export interface LaunchConfiguration {
  name: string;
  program: string;
  args?: string[];
  mode?: Mode;
  cwd?: string;
  recordArgs?: string[];
}

function launchConfigurations(): LaunchConfiguration[] {
  const configurations = vscode.workspace.getConfiguration("launch").get<{ type?: string }[]>("configurations", []);
  return configurations.filter((c): c is LaunchConfiguration & { type: string } => c.type === "ggml-lens" && typeof (c as LaunchConfiguration).program === "string");
}

export function argsOfConfiguration(c: LaunchConfiguration): ProfileRunArgs {
  return { argv: [c.program, ...(c.args ?? [])], mode: c.mode, cwd: c.cwd, recordArgs: c.recordArgs };
}

/** llama.cpp programs built in the workspace: the llama-* files in a bin folder of a build folder. */
async function workspaceBinaries(): Promise<string[]> {
  const found = await vscode.workspace.findFiles("**/build*/bin/llama-*", EXCLUDE, 50);
  return found.map((uri) => uri.fsPath).filter((file) => !/\.(so|a|py|sh)(\.|$)/.test(path.basename(file)));
}
