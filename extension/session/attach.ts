/**
 * "GGML Lens: Attach to process": pick a running process that maps a ggml library, how long to
 * record, and the mode; the recording then runs like "Profile this run" (terminal, status bar,
 * progress, Stop) and its profile lands in the store. The process keeps running afterwards.
 */
import { readlinkSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { findGgmlProcesses, type GgmlProcess, type ProcessScan } from "./ggmlProcesses";
import type { ProfileRunner, ProfileRunResult, RecordSettings } from "./profileRun";

/** The command's argument when it is not to ask anything (tests). */
export interface AttachArgs extends RecordSettings {
  pid: number;
  /** Seconds to record; until stopped when absent. */
  durationS?: number;
}

const DURATIONS: { label: string; seconds: number | undefined }[] = [
  { label: "Until stopped", seconds: undefined },
  { label: "10 seconds", seconds: 10 },
  { label: "30 seconds", seconds: 30 },
  { label: "60 seconds", seconds: 60 },
];

function isAttachArgs(value: unknown): value is AttachArgs {
  if (typeof value !== "object" || value === null) return false;
  const args = value as AttachArgs;
  return Number.isInteger(args.pid) && (args.durationS === undefined || typeof args.durationS === "number");
}

/** The executable's file name (`llama-server`), else `process`. */
function programName(pid: number): string {
  try {
    return path.basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return "process";
  }
}

function unreadableNote(scan: ProcessScan): string | undefined {
  if (scan.unreadable === 0) return undefined;
  return `${scan.unreadable} processes of other users could not be read and are not listed (the probe attaches only to your own processes)`;
}

export class ProcessAttacher {
  constructor(
    private readonly runner: ProfileRunner,
    private readonly scan: () => ProcessScan = () => findGgmlProcesses(),
  ) {}

  /** `args` is whatever the caller passed: anything but AttachArgs asks. */
  async attach(args?: unknown): Promise<ProfileRunResult | undefined> {
    const given = isAttachArgs(args) ? args : undefined;
    const command = given ? `attach to pid ${given.pid}` : "attach to a process";
    const unable = this.runner.cannotRecordNow();
    if (unable) return this.runner.refuse(command, unable);
    const request = given ?? (await this.ask());
    if (!request) return undefined;
    const name = `${programName(request.pid)} pid ${request.pid}`;
    const target = { argv: [], attach: { pid: request.pid, durationS: request.durationS } };
    return this.runner.record(`attach to pid ${request.pid}`, name, target, request);
  }

  private async ask(): Promise<AttachArgs | undefined> {
    const chosen = await this.pickProcess();
    if (!chosen) return undefined;
    const duration = await pickDuration();
    if (!duration) return undefined;
    const mode = await this.runner.pickMode();
    return mode ? { pid: chosen.pid, durationS: duration.seconds, mode } : undefined;
  }

  private async pickProcess(): Promise<GgmlProcess | undefined> {
    const scan = this.scan();
    const note = unreadableNote(scan);
    if (scan.processes.length === 0) {
      const none = "GGML Lens: no running process of yours maps a ggml library (libggml*.so, libllama*.so); start the llama.cpp program first";
      void vscode.window.showInformationMessage(note ? `${none}. ${note}.` : `${none}.`);
      return undefined;
    }
    const items = scan.processes.map((p) => ({
      label: p.command.length > 120 ? `${p.command.slice(0, 119)}…` : p.command,
      description: `pid ${p.pid} · ${p.user}`,
      detail: p.libraries.join(", "),
      process: p,
    }));
    const picked = await vscode.window.showQuickPick(items, {
      title: "GGML Lens: Attach to process",
      placeHolder: note ?? "A running process that maps a ggml library",
      matchOnDescription: true,
      matchOnDetail: true,
    });
    return picked?.process;
  }
}

async function pickDuration(): Promise<{ seconds: number | undefined } | undefined> {
  const items = [...DURATIONS, { label: "Other…", seconds: -1 }];
  const picked = await vscode.window.showQuickPick(items, { title: "GGML Lens: how long to record", placeHolder: "Stop ends it early and keeps the profile" });
  if (!picked || picked.seconds !== -1) return picked;
  const typed = await vscode.window.showInputBox({
    title: "GGML Lens: how long to record",
    prompt: "Seconds",
    validateInput: (value) => (Number(value) > 0 && Number.isFinite(Number(value)) ? undefined : "a positive number of seconds"),
  });
  return typed === undefined ? undefined : { seconds: Number(typed) };
}
