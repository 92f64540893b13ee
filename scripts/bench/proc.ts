// Running one llama-completion under a launcher (nothing, ggml-lens-probe, bpftrace, perf) and
// reading the target's own CPU times from /proc at the start and the end of its generation.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";

/** USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on every Linux ABI in use). */
export const CLOCK_TICKS = 100;

export interface CpuTimes {
  pid: number;
  userS: number;
  systemS: number;
  /** CPU time from /proc/PID/schedstat, in ns (user + system; stat's ticks are 10 ms) */
  runS?: number;
  /** monotonic ms (performance.now) when read */
  atMs: number;
}

/** The process's threads' time on the CPU (schedstat is per thread; a thread that has exited is not in it). */
function runSeconds(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined; // the process is gone: stat's ticks are used
  }
  let ns = 0;
  let read = 0;
  for (const tid of tids) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      read++;
    } catch {
      // a thread that ended since the listing (its time is in no later reading either)
    }
  }
  return read > 0 ? ns / 1e9 : undefined; // none: no schedstat (CONFIG_SCHED_INFO off), or the process ended
}

export function readCpuTimes(pid: number): CpuTimes | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    return { pid, userS: Number(fields[11]) / CLOCK_TICKS, systemS: Number(fields[12]) / CLOCK_TICKS, runS: runSeconds(pid), atMs: performance.now() };
  } catch {
    return undefined;
  }
}

/** CPU seconds a process used between two readings (schedstat's ns when both have them, else stat's ticks). */
export function cpuBetween(a: CpuTimes, b: CpuTimes): number {
  return a.runS !== undefined && b.runS !== undefined ? b.runS - a.runS : b.userS + b.systemS - a.userS - a.systemS;
}

/**
 * A launched process's CPU time as a % of one core, from `fromS` to `toS` seconds after its stderr
 * first matched `mark`: launch hooks that take the two readings, when the mark came (CLOCK_MONOTONIC
 * ns), and the result once the run is over (undefined when a reading is missing).
 */
export function cpuAfterMark(mark: RegExp, fromS: number, toS: number): {
  hooks: Pick<LaunchOptions, "onSpawn" | "onLine">;
  markedNs: () => number | undefined;
  pct: () => number | undefined;
} {
  let pid: number | undefined;
  let markedNs: number | undefined;
  const readings: CpuTimes[] = [];
  const read = () => {
    const t = pid === undefined ? undefined : readCpuTimes(pid);
    if (t) readings.push(t);
  };
  let timers: NodeJS.Timeout[] = [];
  const onLine = (line: string) => {
    if (markedNs !== undefined || !mark.test(line)) return;
    markedNs = Number(process.hrtime.bigint());
    timers = [setTimeout(read, fromS * 1000), setTimeout(read, toS * 1000)];
  };
  const pct = () => {
    timers.forEach(clearTimeout);
    const [a, b] = readings;
    return a && b && b.atMs > a.atMs ? (cpuBetween(a, b) / ((b.atMs - a.atMs) / 1000)) * 100 : undefined;
  };
  return { hooks: { onSpawn: (p) => (pid = p), onLine }, markedNs: () => markedNs, pct };
}

/** CPU seconds the whole machine has been busy (all CPUs: user, nice, system, irq, softirq, steal). */
export function machineBusyS(): number {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

/**
 * Waits until the machine is quiet: less than `cores` CPUs busy over one second, at most `maxMs`.
 * Returns the ms waited and the busy share of the last second.
 */
export async function waitQuiet(cores: number, maxMs: number): Promise<{ waitedMs: number; busyCores: number }> {
  const t0 = performance.now();
  for (;;) {
    const b0 = machineBusyS();
    await sleep(1000);
    const busyCores = machineBusyS() - b0;
    const waitedMs = performance.now() - t0;
    if (busyCores < cores || waitedMs >= maxMs) return { waitedMs, busyCores };
  }
}

function comm(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** The process named `name` (comm, 15 characters at most) at or below `root`. */
export function findProcess(root: number, name: string): number | undefined {
  const want = name.slice(0, 15);
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    if (comm(pid) === want) return pid;
    queue.push(...children(pid));
  }
  return undefined;
}

export interface Timings {
  promptMs: number;
  promptTokens: number;
  evalMs: number;
  evalRuns: number;
}

const PROMPT_RE = /prompt eval time =\s+([\d.]+) ms \/\s+(\d+) tokens/;
const EVAL_RE = /(?<!prompt )eval time =\s+([\d.]+) ms \/\s+(\d+) runs/;

export interface LaunchResult {
  /** the launcher's PID */
  pid: number | undefined;
  code: number | null;
  signal: string | null;
  wallMs: number;
  timings: Partial<Timings>;
  /** target's CPU times when it logged the start of generation, and when it logged its eval time */
  targetStart?: CpuTimes;
  targetEnd?: CpuTimes;
  /** the launcher's own CPU times at the same moments (the helper's cost, for ggml-lens runs) */
  launcherStart?: CpuTimes;
  launcherEnd?: CpuTimes;
  /** the whole machine's busy CPU seconds at the same moments */
  machineStart?: number;
  machineEnd?: number;
  /** ms after spawn at which each watched stderr line arrived, and the line */
  marks: Record<string, number>;
  lines: Record<string, string>;
  stderrTail: string;
}

export interface LaunchOptions {
  /** comm of the process to read CPU times of (the llama.cpp program) */
  target: string;
  timeoutMs: number;
  /** extra stderr lines to time: name -> pattern */
  watch?: Record<string, RegExp>;
  onLine?: (line: string) => void;
  /** the launcher's PID, once it started */
  onSpawn?: (pid: number) => void;
}

const GENERATE_RE = /generate: n_ctx =/;

/** Runs the command to its end; stdout is discarded, stderr is parsed line by line. */
export function launch(argv: string[], o: LaunchOptions): Promise<LaunchResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    const result: LaunchResult = { pid: child.pid, code: null, signal: null, wallMs: 0, timings: {}, marks: {}, lines: {}, stderrTail: "" };
    let targetPid: number | undefined;
    let pending = "";
    const tail: string[] = [];
    const snapshot = (): [CpuTimes | undefined, CpuTimes | undefined] => {
      targetPid ??= child.pid === undefined ? undefined : findProcess(child.pid, o.target);
      return [targetPid === undefined ? undefined : readCpuTimes(targetPid), child.pid === undefined ? undefined : readCpuTimes(child.pid)];
    };
    const onLine = (line: string): void => {
      if (GENERATE_RE.test(line) && !result.targetStart) {
        [result.targetStart, result.launcherStart] = snapshot();
        result.machineStart = machineBusyS();
        result.marks.generate = performance.now() - t0;
      }
      let m = PROMPT_RE.exec(line);
      if (m) {
        result.timings.promptMs = Number(m[1]);
        result.timings.promptTokens = Number(m[2]);
      }
      m = EVAL_RE.exec(line);
      if (m && !result.targetEnd) {
        [result.targetEnd, result.launcherEnd] = snapshot();
        result.machineEnd = machineBusyS();
        result.marks.eval = performance.now() - t0;
        result.timings.evalMs = Number(m[1]);
        result.timings.evalRuns = Number(m[2]);
      }
      for (const [name, re] of Object.entries(o.watch ?? {})) {
        if (name in result.marks || !re.test(line)) continue;
        result.marks[name] = performance.now() - t0;
        result.lines[name] = line;
      }
      o.onLine?.(line);
      tail.push(line);
      if (tail.length > 40) tail.shift();
    };
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (pending) onLine(pending);
      result.code = code;
      result.signal = signal;
      result.wallMs = performance.now() - t0;
      result.stderrTail = tail.join("\n");
      resolve(result);
    });
  });
}

/** A long-running process whose stderr lines are handed over as they come. */
export function start(argv: string[], onLine: (line: string) => void, stdout: "ignore" | "pipe" = "ignore"): ChildProcess {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", stdout, "pipe"] });
  for (const stream of [child.stderr, child.stdout]) {
    if (!stream) continue;
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
  }
  return child;
}

/** bpftrace running `script`, once it said it attached; each other line of its output goes to `onLine`. */
export async function startBpftrace(script: string, onLine: (line: string) => void, what: string): Promise<ChildProcess> {
  let ready = false;
  const child = start(["bpftrace", "-B", "none", "-e", script], (line) => {
    if (line.startsWith("Attaching")) ready = true;
    else onLine(line);
  }, "pipe");
  for (let i = 0; i < 150 && !ready && child.exitCode === null; i++) await sleep(100);
  if (!ready) {
    await stopProcess(child);
    throw new Error(`bpftrace could not attach ${what}`);
  }
  return child;
}

/** Seconds a process has to end after SIGINT before it is killed (llama.cpp's SIGINT handler logs,
 * and can deadlock on its own log mutex: every thread then waits on a futex for good). */
const STOP_GRACE_MS = 5000;

/** Interrupts a process started by `start` and waits until it is gone, killing it after STOP_GRACE_MS. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once("close", resolve));
  child.kill("SIGINT");
  const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await closed;
  clearTimeout(killer);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
