/**
 * One recording in an integrated terminal: the CLI's `record` runs in a pseudo-terminal of its own
 * (node-pty) shown through a vscode Pseudoterminal, so the program's output is visible, interactive
 * programs work (Ctrl-C included), a sudo password prompt can be answered, and the terminal stays
 * open after the run (VS Code would dispose of a terminal whose own process exited).
 */
import type * as Pty from "@lydell/node-pty";
import * as vscode from "vscode";
import { ProgressReader, type RunFigures } from "./progress";

export type Mode = "default" | "full" | "sample";
export type Elevation = "sudo" | "pkexec" | "none";

export interface RecordingOptions {
  /** The program and its arguments; ignored when attaching. */
  argv: string[];
  /** A running process to attach to instead, for `durationS` seconds or until stopped. */
  attach?: { pid: number; durationS?: number };
  mode: Mode;
  /** The profile to write. */
  out: string;
  cwd: string;
  elevation: Elevation;
  /** More `record` options (e.g. `--sample-hz 999`). */
  recordArgs: string[];
  /** dist/cli.js of this extension. */
  cli: string;
}

export interface RecordingOutcome {
  /** The CLI's exit status: the program's own when it ran. */
  exitCode: number;
  /** Why no profile came, in the helper's or CLI's words (their last error line), if they said. */
  failure: string | undefined;
}

const ETX = "\x03";
/** Terminal output kept to find the failure line. */
const TAIL_CHARS = 16_384;

/** The CLI's `record` command line for `options`. */
export function recordArgv(options: RecordingOptions): string[] {
  const { attach } = options;
  const target = attach
    ? ["--pid", String(attach.pid), ...(attach.durationS === undefined ? [] : ["--duration", String(attach.durationS)])]
    : ["--", ...options.argv];
  return [options.cli, "record", "--mode", options.mode, "--elevation", options.elevation, "--out", options.out, ...options.recordArgs, ...target];
}

/**
 * node-pty, loaded when a recording starts rather than when the extension activates: hosts without
 * its native binary (not Linux) can still open saved profiles.
 */
function loadPty(): typeof Pty {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@lydell/node-pty") as typeof Pty;
}

/** The last line where the helper or the CLI said what went wrong. */
export function failureLine(output: string): string | undefined {
  const lines = output.split(/\r?\n|\r/).map((line) => line.trim());
  const errors = lines.filter((line) => /^ggml-lens(-probe)?: /.test(line) && /error|denied|cannot|needs|no readable|not /.test(line));
  const probeError = errors.filter((line) => line.startsWith("ggml-lens-probe: error:")).pop();
  return (probeError ?? errors.pop())?.replace(/^ggml-lens(-probe)?: (error: )?/, "");
}

export class Recording implements vscode.Disposable {
  readonly terminal: vscode.Terminal;
  /** Resolves when the CLI exited. */
  readonly done: Promise<RecordingOutcome>;
  private readonly figures = new vscode.EventEmitter<RunFigures>();
  /** The helper's progress figures, about once a second. */
  readonly onFigures = this.figures.event;
  private readonly progress = new ProgressReader();
  private readonly write = new vscode.EventEmitter<string>();
  private readonly close = new vscode.EventEmitter<void>();
  private readonly process: Pty.IPty;
  private opened = false;
  private pending: string[] = [];
  private tail = "";
  private exited = false;

  constructor(name: string, options: RecordingOptions) {
    // The extension host's own node; in an Electron host it runs as node with this variable.
    this.process = loadPty().spawn(process.execPath, recordArgv(options), {
      name: "xterm-256color",
      cols: 120,
      rows: 30,
      cwd: options.cwd,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" } as Record<string, string>,
    });
    this.terminal = vscode.window.createTerminal({ name, pty: this.pseudoterminal(), isTransient: false });
    this.done = new Promise((resolve) => {
      this.process.onExit(({ exitCode }) => {
        this.exited = true;
        this.show(`\r\n\x1b[2m[GGML Lens] the run ended with exit status ${exitCode}. Press any key to close this terminal.\x1b[0m\r\n`);
        resolve({ exitCode, failure: exitCode === 0 ? undefined : failureLine(this.tail) });
      });
    });
    this.process.onData((data) => this.output(data));
  }

  /** Ends the run as Ctrl-C does: the program is interrupted and the profile kept. */
  stop(): void {
    if (!this.exited) this.process.write(ETX);
  }

  get figuresNow(): RunFigures {
    return this.progress.figures;
  }

  dispose(): void {
    if (!this.exited) this.process.kill();
    this.figures.dispose();
  }

  private output(data: string): void {
    this.tail = (this.tail + data).slice(-TAIL_CHARS);
    if (this.progress.push(data, Date.now())) this.figures.fire(this.progress.figures);
    this.show(data);
  }

  /** Writes to the terminal, holding output back until VS Code opened it. */
  private show(data: string): void {
    if (this.opened) this.write.fire(data);
    else this.pending.push(data);
  }

  private pseudoterminal(): vscode.Pseudoterminal {
    return {
      onDidWrite: this.write.event,
      onDidClose: this.close.event,
      open: (dimensions) => {
        this.opened = true;
        if (dimensions && !this.exited) this.process.resize(dimensions.columns, dimensions.rows);
        this.pending.forEach((data) => this.write.fire(data));
        this.pending = [];
      },
      handleInput: (data) => {
        if (this.exited) this.close.fire();
        else this.process.write(data);
      },
      setDimensions: (dimensions) => {
        if (!this.exited) this.process.resize(dimensions.columns, dimensions.rows);
      },
      close: () => {
        if (!this.exited) this.process.kill("SIGHUP");
      },
    };
  }
}
