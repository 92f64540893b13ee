// Finds and kills every process a test started: the process group of a detached child plus all
// of its descendants (VS Code's terminals call setsid(), so their shells leave the group).
import * as fs from "node:fs";

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { pid, state: fields[0], ppid: Number(fields[1]), pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcStat[] {
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== undefined);
}

/**
 * Processes in `root`'s process group (root being a group leader), the `known` ones still alive,
 * and all descendants of these.
 */
export function processTree(root: number, known: Iterable<number> = []): number[] {
  if (root <= 0) return []; // kernel threads have process group 0
  const processes = allProcesses();
  const wanted = new Set([root, ...known]);
  const found = new Set(processes.filter((p) => wanted.has(p.pid) || p.pgid === root).map((p) => p.pid));
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of processes) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/** The child of `parent` one of whose arguments contains `fragment`, if any. */
export function childWithArgument(parent: number, fragment: string): number | undefined {
  return allProcesses().find((p) => p.ppid === parent && commandLine(p.pid).some((arg) => arg.includes(fragment)))?.pid;
}

function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Synchronous last resort (for process.on("exit")): SIGKILL the whole tree once. */
export function killTreeNow(root: number): void {
  for (const pid of processTree(root)) killQuietly(pid);
}

function isZombieOrGone(pid: number): boolean {
  const state = readStat(pid)?.state;
  return state === undefined || state === "Z";
}

/**
 * SIGKILLs `root`'s tree until nothing of it is left and throws if something survives `timeoutMs`.
 * Every pid seen once stays targeted, so children orphaned by a parent's death (reparented to
 * init) are not lost. Zombies waiting for their parent to reap them count as gone.
 */
export async function killTree(root: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<number>();
  for (;;) {
    processTree(root, seen).forEach((pid) => seen.add(pid));
    const alive = [...seen].filter((pid) => !isZombieOrGone(pid));
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes still alive after SIGKILL: ${alive.join(", ")}`);
    alive.forEach(killQuietly);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
