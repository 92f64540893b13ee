// The probe helper's traces in the kernel, for tests that check nothing is left behind.
import { spawnSync } from "node:child_process";
import fs from "node:fs";

export const PROGRAMS = ["decode_enter", "decode_exit", "graph_enter", "graph_exit", "op_probe",
  "sample", "sched_switch", "sched_wakeup", "backend_graph_enter", "backend_graph_exit", "sched_graph_enter",
  "sched_graph_exit", "copy_sync_enter", "copy_async_enter", "set_async_enter", "copy_exit",
  "backend_name_enter", "device_name_enter", "name_exit"];

/** Ids of the kernel's links to ggml-lens-probe's programs. */
export function probeLinks(): Set<number> {
  const bpftool = (what: string) => JSON.parse(spawnSync("bpftool", ["-j", what, "show"], { encoding: "utf8" }).stdout || "[]");
  const ours = new Set(bpftool("prog").filter((p: { name?: string }) => PROGRAMS.includes(p.name ?? "")).map((p: { id: number }) => p.id));
  return new Set((bpftool("link") as { id: number; prog_id: number }[]).filter((l) => ours.has(l.prog_id)).map((l) => l.id));
}

/**
 * Links created since `before` that are still there once no helper runs any more: probes a
 * finished run left behind (a helper started meanwhile by other work on the machine is waited for).
 */
export function linksLeftSince(before: Set<number>): number[] {
  for (let i = 0; i < 600 && helperRunning(); i++) spawnSync("sleep", ["0.1"]);
  return [...probeLinks()].filter((id) => !before.has(id));
}

export function helperRunning(): boolean {
  return spawnSync("pgrep", ["-x", "ggml-lens-probe"]).status === 0;
}


/** The program a launching helper started: its child that is not the helper's own pin reaper. */
export function launchedTarget(helperPid: number): number {
  const children = spawnSync("pgrep", ["-P", String(helperPid)], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean).map(Number);
  return children.find((pid) => fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "ggml-lens-probe") ?? 0;
}
