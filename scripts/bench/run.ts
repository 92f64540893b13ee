// The capture benchmarks, side by side in one run:  npm run bench [-- --quick] [options]
//
// Every figure comes from runs of the same llama-completion command on the 1B-class benchmark
// model, one run per variant per round, the variants interleaved (their order rotates each round),
// and is reported as a ratio to its baseline with median and spread over the rounds:
//   1. attach and detach time of the op probes (uprobe_multi links) on a running llama-completion
//      (--pid, --duration), timed from the helper's own syscalls (bpftrace on syscall tracepoints)
//      and from outside (helper wall time);
//   2. cost per traced op event: ggml-lens full mode against empty uprobes on the same sites
//      (perf-counted tracefs uprobes on exactly ggml-lens's op sites, and bpftrace's empty
//      `uprobe:LIB:ggml_cpu_extra_compute_forward {}`), from the target's system time and
//      llama.cpp's own timings, divided by the hits counted;
//   3. overhead of --mode default / full / sample against no profiler (and an A/A control);
//   4. events lost in full mode (trailer);
//   5. decode speed of decodeStream + buildProfile on the largest recording.
// Writes bench/results.md and bench/results.json (or --out-dir). Needs root, bpftrace and perf.
import { execFileSync, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { withBpfStats } from "../../test/harness/bpfStats";
import { benchAgainstProfile, fidelityOf } from "./fidelity";
import { decodeStream } from "../../extension/profile/stream";
import { buildProfile } from "../../extension/profile/model";
import { cpuAfterMark, cpuBetween, launch, start, sleep, startBpftrace, stopProcess, waitQuiet, type LaunchResult } from "./proc";
import { windowExcessOf, type WindowExcess } from "./windows";
import { alternate, type AlternationResult } from "./alternation";
import { computeFigures, missedTargets, opHits, perfHits, writeReport, type AttachRun, type BenchData, type DecodeRun, type LinkEvent, type RunRecord } from "./report";

const repo = path.resolve(__dirname, "../..");
const THREADS = 2;
/** Alternation phases: default mode (or its stand-in) measured this long (its window period, from 2 s after attaching), then this long with nothing attached. */
const ALTERNATION_ON_S = 10;
const ALTERNATION_OFF_S = 8;
const PROMPT = "The quick brown fox jumps over the lazy dog while the old grey cat sleeps in the warm sun.";
const TRACEFS = "/sys/kernel/tracing";
const EVENT_GROUP = "ggml_lens_bench";

export const VARIANTS = ["none", "none-b", "bpftrace-empty", "perf-empty", "lens-sample", "lens-default", "lens-full", "bpftrace-ops", "perf-record"] as const;
/** The MoE model's rounds: no profiler and each ggml-lens mode. */
const MOE_VARIANTS = ["none", "lens-sample", "lens-default", "lens-full"] as const;
/** The precise per-hit rounds: each side of both differences (op probes alone; empty uprobes on the same sites). */
const PER_HIT_VARIANTS = ["none", "perf-empty", "lens-sample", "lens-full"] as const;
/** Tokens of a per-hit run: the context stays short, so each token's compute stays small against its op hits. */
const PER_HIT_TOKENS = 100;
/** The generic peers: a bpftrace script timing every exported op kernel, and perf's timer sampling. */
const bpftraceOps = (lib: string, kernels: string[]): string => {
  const at = (kind: string) => kernels.map((k) => `${kind}:${lib}:${k}`).join(",");
  return `${at("uprobe")} { @start[tid] = nsecs; } ${at("uretprobe")} /@start[tid]/ { @ns[func] = sum(nsecs - @start[tid]); delete(@start[tid]); }`;
};

/**
 * The exported op kernels a uprobe can be placed on: the kernel refuses a uprobe on a first
 * instruction it cannot single-step or emulate (VEX-encoded AVX instructions), and bpftrace then
 * gives up on the whole script.
 */
function probeableKernels(lib: string): string[] {
  const symbols = execFileSync("nm", ["-D", "--defined-only", lib], { encoding: "utf8" }).split("\n")
    .map((l) => l.split(" ")).filter((f) => f[1] === "T" && f[2]?.startsWith("ggml_compute_forward_"));
  return symbols.filter(([addr]) => {
    const start = parseInt(addr, 16);
    const dump = execFileSync("objdump", ["-d", `--start-address=${start}`, `--stop-address=${start + 1}`, lib], { encoding: "utf8" });
    const first = /^\s*[0-9a-f]+:\s+([0-9a-f]{2})/m.exec(dump)?.[1];
    return first !== undefined && first !== "c4" && first !== "c5";
  }).map((f) => f[2]);
}
export type Variant = (typeof VARIANTS)[number];

interface Options {
  quick: boolean;
  rounds: number;
  tokens: number;
  attachRounds: number;
  attachSeconds: number;
  longSeconds: number;
  windowSeconds: number;
  /** default mode attached for this long to a decoding target, for the helper's CPU in a long run */
  steadySeconds: number;
  /** default mode attached and detached on one target this many times (and a stand-in as often; 0: not measured) */
  alternationCycles: number;
  decodeRepeats: number;
  moeRounds: number;
  /** rounds of the precise per-hit comparison on the tiny model (0: not measured) */
  perHitRounds: number;
  fidelityRounds: number;
  outDir: string;
  keep: boolean;
  /** fixtures model key; the benchmark model unless testing the bench itself */
  model: string;
  /** fixtures model key of the MoE model */
  moeModel: string;
  /** before each run, wait up to this many seconds for the machine to be quiet (0: never wait) */
  quietWait: number;
  /** ... at most this many seconds in all */
  quietBudget: number;
  /** only recompute the figures and rewrite the report from an earlier results.json */
  fromJson?: string;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const o: Options = {
    quick,
    rounds: quick ? 3 : 10,
    tokens: quick ? 48 : 128,
    attachRounds: quick ? 3 : 6,
    attachSeconds: 2,
    longSeconds: quick ? 4 : 10,
    windowSeconds: quick ? 4 : 8,
    steadySeconds: quick ? 8 : 30,
    alternationCycles: quick ? 1 : 12,
    decodeRepeats: quick ? 3 : 9,
    moeRounds: quick ? 2 : 5,
    perHitRounds: quick ? 1 : 25,
    fidelityRounds: quick ? 1 : 3,
    outDir: path.join(repo, "bench"),
    keep: false,
    model: "benchDenseQ4_0",
    moeModel: "benchMoe",
    quietWait: 60,
    quietBudget: 480,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    /** A round count where 0 leaves the figure out. */
    const count = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a whole number (0 leaves the figure out)`);
      return v;
    };
    if (a === "--quick") continue;
    else if (a === "--rounds") o.rounds = Math.round(num());
    else if (a === "--tokens") o.tokens = Math.round(num());
    else if (a === "--attach-rounds") o.attachRounds = Math.round(num());
    else if (a === "--long-seconds") o.longSeconds = num();
    else if (a === "--steady-seconds") o.steadySeconds = num();
    else if (a === "--alternation-cycles") o.alternationCycles = count();
    else if (a === "--moe-rounds") o.moeRounds = count();
    else if (a === "--per-hit-rounds") o.perHitRounds = count();
    else if (a === "--fidelity-rounds") o.fidelityRounds = count();
    else if (a === "--out-dir") o.outDir = path.resolve(argv[++i]);
    else if (a === "--keep") o.keep = true;
    else if (a === "--model") o.model = argv[++i];
    else if (a === "--moe-model") o.moeModel = argv[++i];
    else if (a === "--quiet-wait") o.quietWait = argv[i + 1] === "0" ? (i++, 0) : num();
    else if (a === "--quiet-budget") o.quietBudget = num();
    else if (a === "--from-json") o.fromJson = path.resolve(argv[++i]);
    else if (a === "-h" || a === "--help") {
      process.stdout.write(
        "npm run bench [-- --quick] [--rounds N] [--tokens N] [--attach-rounds N] [--long-seconds S] [--steady-seconds S (default 30)] [--alternation-cycles N (default 12)] [--moe-rounds N] [--per-hit-rounds N (default 25)] [--fidelity-rounds N]\n       [--out-dir DIR] [--keep]\n       [--quiet-wait S (default 60; 0: never wait)] [--quiet-budget S (default 480)]\n       [--from-json results.json: only rewrite the report from earlier raw numbers]\n       Exit status 1 when a target is not met (each is listed), 0 when all are met or not measured.\n       [--model KEY, --moe-model KEY: models of `npm run fixtures`, to try the bench itself on tinyDense / tinyMoe]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return o;
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
}

interface Fixtures {
  llamaCompletion: string;
  llamaBench: string;
  models: Record<string, string>;
}

function machine(fixtures: Fixtures, helper: string, helperCopy: string): BenchData["machine"] {
  const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
  const llamaDir = path.basename(path.dirname(path.dirname(path.dirname(fixtures.llamaCompletion))));
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
  const git = (...args: string[]) => sh("git", ["-C", repo, ...args]);
  const dirty = git("status", "--porcelain", "--", "bpf", "extension/profile").split("\n").filter(Boolean);
  return {
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    debian: fs.existsSync("/etc/debian_version") ? fs.readFileSync("/etc/debian_version", "utf8").trim() : "n/a",
    hardwarePmu: fs.existsSync("/sys/bus/event_source/devices/cpu") || fs.existsSync("/sys/bus/event_source/devices/cpu_core"),
    llamaCppTag: llamaDir.replace(/^llama\.cpp-/, ""),
    llamaCppVersion: sh(fixtures.llamaCompletion, ["--version"]).split("\n").filter((l) => /version|built/.test(l)).join("; "),
    ggmlLensVersion: pkg.version,
    gitCommit: git("rev-parse", "--short", "HEAD"),
    gitDirty: dirty,
    helperSha256: crypto.createHash("sha256").update(fs.readFileSync(helperCopy)).digest("hex").slice(0, 16),
    helperPath: helper,
    node: process.version,
    bpftrace: sh("bpftrace", ["--version"]),
    perf: sh("perf", ["--version"]),
  };
}

function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Busy processes other than ours, by command name, to explain a loaded machine. */
function busyProcesses(): string[] {
  const out = sh("ps", ["-eo", "pcpu=,comm=", "--sort=-pcpu"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([cpu]) => Number(cpu) >= 10)
    .slice(0, 6)
    .map(([cpu, ...name]) => `${name.join(" ")} ${cpu}%`);
}

// ---- tracefs uprobes: empty probes on the op sites, counted by perf --------------------------

interface Site {
  index: number;
  kind: string;
  file_offset: number;
  what: string;
}

function writeUprobeEvents(line: string): void {
  fs.appendFileSync(path.join(TRACEFS, "uprobe_events"), line + "\n");
}

function removeUprobeEvents(): void {
  const file = path.join(TRACEFS, "uprobe_events");
  if (!fs.existsSync(file)) return;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = new RegExp(`^[pr]:${EVENT_GROUP}/(\\S+)`).exec(line);
    if (m) {
      try {
        writeUprobeEvents(`-:${EVENT_GROUP}/${m[1]}`);
      } catch (err) {
        log(`could not remove uprobe event ${m[1]}: ${(err as Error).message}`);
      }
    }
  }
}

function createUprobeEvents(lib: string, sites: Site[]): string[] {
  if (!fs.existsSync(path.join(TRACEFS, "uprobe_events"))) execFileSync("mount", ["-t", "tracefs", "tracefs", TRACEFS]);
  removeUprobeEvents();
  return sites.map((s) => {
    const name = `site${s.index}`;
    writeUprobeEvents(`p:${EVENT_GROUP}/${name} ${lib}:0x${s.file_offset.toString(16)}`);
    return `${EVENT_GROUP}:${name}`;
  });
}

function parsePerfCounts(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const f = line.split(",");
    if (f.length > 3 && f[2].startsWith(`${EVENT_GROUP}:`)) counts[f[2].slice(EVENT_GROUP.length + 1)] = Number(f[0]);
  }
  return counts;
}

// ---- timing of link attach and detach, seen from the helper's system calls ---------------------
// This kernel has no kprobes (CONFIG_KPROBES off), so bpftrace watches ggml-lens-probe's syscalls:
// a link attach is one bpf(BPF_LINK_CREATE) call; a link detach is a close() of that fd whose work
// (fput -> bpf_link_release -> uprobe unregister) runs on the way back to user space, after the
// syscall's exit tracepoint, so it is timed from the close() entry to the helper's next syscall.
// attach_type 48 is BPF_TRACE_UPROBE_MULTI (op probes), 41 BPF_PERF_EVENT (single uprobes and
// timer sampling), 23 BPF_TRACE_RAW_TP (scheduler tracepoints).

const LINK_SCRIPT = `
tracepoint:syscalls:sys_enter_bpf /comm == "ggml-lens-probe" && args->cmd == 28/ {
  @lc[tid] = nsecs; @lt[tid] = *(uint32*)uptr((uint64)args->uattr + 8); }
tracepoint:syscalls:sys_exit_bpf /@lc[tid]/ {
  printf("GLK L %d %lld %lld %d %d\\n", pid, nsecs, nsecs - @lc[tid], args->ret, @lt[tid]);
  if (args->ret >= 0) { @fd[pid, args->ret] = @lt[tid] + 1000; }
  delete(@lc[tid]); delete(@lt[tid]); }
tracepoint:syscalls:sys_enter_close /@fd[pid, args->fd]/ {
  if (@cx[tid]) { printf("GLK D %d %lld %lld %d %d\\n", pid, nsecs, nsecs - @cl[tid], @cf[tid], @ct[tid]); delete(@cx[tid]); }
  @cl[tid] = nsecs; @ct[tid] = @fd[pid, args->fd] - 1000; @cf[tid] = args->fd; delete(@fd[pid, args->fd]); }
tracepoint:syscalls:sys_exit_close /@cl[tid]/ { @cx[tid] = 1; }
tracepoint:raw_syscalls:sys_enter /@cx[tid]/ {
  printf("GLK D %d %lld %lld %d %d\\n", pid, nsecs, nsecs - @cl[tid], @cf[tid], @ct[tid]);
  delete(@cl[tid]); delete(@ct[tid]); delete(@cx[tid]); delete(@cf[tid]); }
`;

async function startLinkMonitor(events: LinkEvent[]): Promise<ChildProcess> {
  const child = await startBpftrace(LINK_SCRIPT, (line) => {
    const m = /^GLK ([LD]) (\d+) (\d+) (\d+) (-?\d+) (-?\d+)/.exec(line);
    if (m) events.push({ kind: m[1] as LinkEvent["kind"], pid: Number(m[2]), ns: Number(m[3]), durNs: Number(m[4]), fd: Number(m[5]), type: Number(m[6]) });
  }, "the syscall tracepoints that time link attach/detach");
  await sleep(500);
  return child;
}

// ---- one run ---------------------------------------------------------------------------------

interface Ctx {
  o: Options;
  work: string;
  helper: string;
  llama: string;
  model: string;
  promptFile: string;
  cpuLib: string;
  perfEvents: string[];
  /** exported op kernels the bpftrace peer probes */
  opKernels: string[];
  /** tokens and threads of the target, when not the options' tokens and THREADS */
  tokens?: number;
  threads?: number;
}

function completionArgs(c: Ctx, extra: string[] = []): string[] {
  return [c.llama, "-m", c.model, "-f", c.promptFile, "-n", String(c.tokens ?? c.o.tokens), "-no-cnv", "--temp", "0", "--ignore-eos",
    "-t", String(c.threads ?? THREADS), "--no-warmup", ...extra];
}

function trailerOf(file: string, windowCosts = false): {
  trailer: Record<string, unknown> | undefined; records: number; opRecords: number; bytes: number; errors: string[]; windowExcess?: WindowExcess[];
} {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const s = decodeStream(bytes);
  return { trailer: s.trailer?.raw, records: s.count, opRecords: s.tables.opBegin.count + s.tables.opEnd.count, bytes: bytes.length, errors: s.errors,
    windowExcess: windowCosts ? windowExcessOf(buildProfile(s)) : undefined };
}

async function runVariant(c: Ctx, variant: Variant, round: number, position: number): Promise<RunRecord> {
  const target = completionArgs(c);
  const stream = path.join(c.work, `${variant}-${round}.stream`);
  const perfOut = path.join(c.work, `perf-${round}.csv`);
  let argv: string[];
  if (variant === "none" || variant === "none-b") argv = target;
  else if (variant === "bpftrace-empty")
    argv = ["bpftrace", "-e", `uprobe:${c.cpuLib}:ggml_cpu_extra_compute_forward {}`, "-c", target.join(" ")];
  else if (variant === "perf-empty") argv = ["perf", "stat", "-x", ",", "-o", perfOut, "-e", c.perfEvents.join(","), "--", ...target];
  else if (variant === "bpftrace-ops") argv = ["bpftrace", "-e", bpftraceOps(c.cpuLib, c.opKernels), "-c", target.join(" ")];
  else if (variant === "perf-record") argv = ["perf", "record", "-F", "999", "-q", "-o", path.join(c.work, `perf-${round}.data`), "--", ...target];
  else argv = [c.helper, "--mode", variant.slice("lens-".length), "--out", stream, "--", ...target];
  const load1 = os.loadavg()[0];
  const quiet = await quietGate(c.o);
  const r: LaunchResult = await launch(argv, {
    target: "llama-completion",
    timeoutMs: 15 * 60_000,
    watch: { attached: /ggml-lens-probe: attached in/ },
  });
  const rec: RunRecord = { round, position, variant, ok: false, load1, quietWaitMs: quiet.waitedMs, busyCoresBefore: quiet.busyCores,
    wallMs: r.wallMs, exit: r.code };
  const t = r.timings;
  if (t.promptMs !== undefined && t.evalMs !== undefined && t.evalRuns && t.promptTokens) {
    rec.promptMs = t.promptMs;
    rec.promptTokens = t.promptTokens;
    rec.evalMs = t.evalMs;
    rec.evalRuns = t.evalRuns;
    rec.computeMs = t.promptMs + t.evalMs;
    rec.decodeTokS = (t.evalRuns / t.evalMs) * 1000;
    rec.promptTokS = (t.promptTokens / t.promptMs) * 1000;
  }
  if (r.targetStart && r.targetEnd && r.targetStart.pid === r.targetEnd.pid) {
    rec.targetUserS = r.targetEnd.userS - r.targetStart.userS;
    rec.targetSystemS = r.targetEnd.systemS - r.targetStart.systemS;
    if (r.targetStart.runS !== undefined && r.targetEnd.runS !== undefined) rec.targetRunS = r.targetEnd.runS - r.targetStart.runS;
    rec.snapshotGapMs = r.targetEnd.atMs - r.targetStart.atMs;
  }
  let launcherCpu = 0;
  if (r.launcherStart && r.launcherEnd && r.launcherStart.pid !== r.targetStart?.pid) {
    launcherCpu = cpuBetween(r.launcherStart, r.launcherEnd);
    if (variant.startsWith("lens-")) rec.helperCpuS = launcherCpu;
  }
  if (r.machineStart !== undefined && r.machineEnd !== undefined && rec.targetUserS !== undefined && rec.targetSystemS !== undefined) {
    // CPU time used by anything else on the machine while the target generated (other work, this script)
    rec.foreignCpuS = r.machineEnd - r.machineStart - rec.targetUserS - rec.targetSystemS - launcherCpu;
  }
  const attached = /attached in (\d+) ms/.exec(r.lines.attached ?? "");
  if (attached) rec.attachedMs = Number(attached[1]);
  if (variant.startsWith("lens-")) {
    if (fs.existsSync(stream)) {
      const tr = trailerOf(stream);
      rec.records = tr.records;
      rec.opRecords = tr.opRecords;
      rec.streamBytes = tr.bytes;
      rec.hits = tr.trailer?.hits as Record<string, number> | undefined;
      rec.lost = tr.trailer?.lost as Record<string, number> | undefined;
      rec.windows = tr.trailer?.windows as number | undefined;
      if (tr.errors.length) rec.streamErrors = tr.errors.slice(0, 5);
      if (variant !== "lens-full" || round > 0) fs.rmSync(stream);
      else rec.stream = stream;
    }
  }
  fs.rmSync(path.join(c.work, `perf-${round}.data`), { force: true });
  if (variant === "perf-empty" && fs.existsSync(perfOut)) {
    rec.perfCounts = parsePerfCounts(perfOut);
    fs.rmSync(perfOut);
  }
  rec.launcherPid = r.pid;
  rec.ok = r.code === 0 && rec.computeMs !== undefined && rec.targetSystemS !== undefined &&
    (!variant.startsWith("lens-") || rec.hits !== undefined) && (variant !== "perf-empty" || rec.perfCounts !== undefined);
  if (!rec.ok) rec.error = `exit ${r.code} ${r.signal ?? ""}: ${r.stderrTail.split("\n").slice(-6).join(" | ")}`;
  return rec;
}

let quietSpentMs = 0;

/** Waits for a quiet machine before a run, within the per-run and total budgets. */
async function quietGate(o: Options): Promise<{ waitedMs: number; busyCores: number }> {
  const left = Math.min(o.quietWait * 1000, o.quietBudget * 1000 - quietSpentMs);
  const q = await waitQuiet(0.25, Math.max(0, left));
  quietSpentMs += q.waitedMs;
  if (q.busyCores >= 0.25) log(`machine busy (${q.busyCores.toFixed(2)} CPUs) and the wait budget is used: running anyway`);
  return q;
}

// ---- figure 1: attach / detach on a running target ------------------------------------------

/** A llama-completion that generates until stopped (its context shifts when full), once it is generating. */
async function startGenerating(c: Ctx, what: string, extra: string[] = []): Promise<ChildProcess> {
  let generating = false;
  const target = start([c.llama, "-m", c.model, "-f", c.promptFile, "-n", "1000000", "-no-cnv", "--temp", "0", "--ignore-eos",
    "-t", String(THREADS), "--no-warmup", "--context-shift", ...extra], (line) => {
    if (/generate: n_ctx =/.test(line)) generating = true;
  });
  for (let i = 0; i < 1200 && !generating && target.exitCode === null; i++) await sleep(100);
  if (!generating) {
    await stopProcess(target);
    throw new Error(`the ${what} target did not start generating`);
  }
  await sleep(1500);
  return target;
}

/** Alternation's target: a context of 256 cells, so that its tokens/s stays level. */
async function measureAlternation(c: Ctx): Promise<AlternationResult> {
  const target = await startGenerating(c, "alternation", ["-c", "256"]);
  try {
    return await alternate({ helper: c.helper, pid: target.pid as number, cycles: c.o.alternationCycles, onSeconds: ALTERNATION_ON_S,
      offSeconds: ALTERNATION_OFF_S, out: path.join(c.work, "alternation.stream"), log });
  } finally {
    await stopProcess(target);
  }
}

async function attachDetach(c: Ctx, links: LinkEvent[]): Promise<{ runs: AttachRun[]; longStream?: string; targetSurvived: boolean }> {
  const target = await startGenerating(c, "attach");
  const runs: AttachRun[] = [];
  let longStream: string | undefined;
  let survived = false;
  try {
    const one = async (mode: string, seconds: number, round: number, extra: string[] = [], keep = false, purpose?: "steady"): Promise<void> => {
      const out = path.join(c.work, `attach-${mode}${purpose ?? ""}-${round}.stream`);
      const argv = [c.helper, "--mode", mode, ...extra, "--pid", String(target.pid), "--duration", String(seconds), "--out", out];
      // the helper's CPU with its start-up and the first window's graph structures left out
      const steady = purpose === "steady" ? cpuAfterMark(/attached in/, 3, seconds - 1) : undefined;
      // the long run has the kernel keep each BPF program's run time (the trailer's program_cost)
      const run = () => launch(argv, { target: "-", timeoutMs: 10 * 60_000, watch: { attached: /attached in/ }, ...steady?.hooks });
      const r = await (keep ? withBpfStats(true, run) : run());
      await sleep(300); // the monitor's last lines
      const mine = links.filter((e) => e.pid === r.pid);
      const rec: AttachRun = {
        round, mode, seconds, args: extra, ok: r.code === 0, wallMs: r.wallMs, load1: os.loadavg()[0], purpose, helperCpuPct: steady?.pct(),
        startupMs: r.marks.attached,
        tailMs: r.marks.attached === undefined ? undefined : r.wallMs - r.marks.attached - seconds * 1000,
        attachedMs: Number(/attached in (\d+) ms/.exec(r.lines.attached ?? "")?.[1] ?? NaN),
        links: mine,
      };
      if (fs.existsSync(out)) {
        const tr = trailerOf(out, mode === "default");
        rec.windowExcess = tr.windowExcess;
        rec.records = tr.records;
        rec.opRecords = tr.opRecords;
        rec.hits = tr.trailer?.hits as Record<string, number> | undefined;
        rec.lost = tr.trailer?.lost as Record<string, number> | undefined;
        rec.windows = tr.trailer?.windows as number | undefined;
        rec.programCost = tr.trailer?.program_cost as AttachRun["programCost"];
        if (keep) longStream = out;
        else fs.rmSync(out);
      }
      if (!rec.ok) rec.error = r.stderrTail.split("\n").slice(-4).join(" | ");
      runs.push(rec);
      const ms = (kind: string, type: number) => mine.filter((e) => e.kind === kind && e.type === type).map((e) => (e.durNs / 1e6).toFixed(2)).join("+");
      log(`attach ${mode} #${round}: attached in ${rec.attachedMs} ms (op links ${ms("L", 48) || "-"} ms), tail ${rec.tailMs?.toFixed(0)} ms ` +
        `(op links detach ${ms("D", 48) || "-"} ms; single uprobes ${ms("D", 41) || "-"} ms)` +
        (rec.helperCpuPct === undefined ? "" : `; helper CPU ${rec.helperCpuPct.toFixed(3)}% of a core`));
    };
    for (let round = 0; round < c.o.attachRounds; round++) {
      const order = round % 2 === 0 ? ["full", "sample"] : ["sample", "full"];
      for (const mode of order) await one(mode, c.o.attachSeconds, round);
    }
    // default mode's duty cycle: op links attached and detached once per window while it runs
    await one("default", c.o.windowSeconds, -1, ["--window-every", "0.5", "--window-decodes", "2"]);
    await one("full", c.o.longSeconds, -1, [], true);
    await one("default", c.o.steadySeconds, -1, [], false, "steady");
  } finally {
    survived = target.exitCode === null && target.signalCode === null;
    await stopProcess(target);
  }
  return { runs, longStream, targetSurvived: survived };
}

// ---- figure 5: decode speed ------------------------------------------------------------------

/** Builds before the timed ones besides the first: the JIT compiles buildProfile's loops over the first few. */
const DECODE_WARMUPS = 4;

function decodeSpeed(file: string, repeats: number): { cold: DecodeRun; warmups: DecodeRun[]; runs: DecodeRun[]; recordsStart: number } {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const timedBuild = (): DecodeRun => {
    const t0 = performance.now();
    const s = decodeStream(bytes);
    const t1 = performance.now();
    const p = buildProfile(s);
    const t2 = performance.now();
    return { events: s.count, bytes: bytes.length, decodeMs: t1 - t0, buildMs: t2 - t1, spans: p.spans.count };
  };
  const cold = timedBuild();
  const warmups = Array.from({ length: DECODE_WARMUPS }, timedBuild);
  const runs = Array.from({ length: repeats }, timedBuild);
  return { cold, warmups, runs, recordsStart: decodeStream(bytes).header.recordsStart };
}

// ---- main ------------------------------------------------------------------------------------

function writeOutputs(outDir: string, data: BenchData): void {
  const figures = computeFigures(data);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "results.json"), JSON.stringify({ ...data, figures }, null, 1) + "\n");
  const report = path.join(outDir, "results.md");
  const summary = writeReport(report, data, figures);
  process.stdout.write(summary + "\n");
  const missed = missedTargets(fs.readFileSync(report, "utf8"));
  if (missed.length) {
    process.stderr.write(`bench: ${missed.length} target(s) not met, exit status 1 (see ${report}):\n${missed.map((line) => `  - ${line}`).join("\n")}\n`);
    process.exitCode = 1;
  }
}


function linkModel(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.symlinkSync(from, to);
  }
}

/** ", op hits N" and ", perf hits N" of a run's log line, where it counted them. */
function hitCounts(rec: RunRecord): string {
  return (rec.hits ? `, op hits ${opHits(rec)}` : "") + (rec.perfCounts ? `, perf hits ${perfHits(rec)}` : "");
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.fromJson) {
    const data = JSON.parse(fs.readFileSync(o.fromJson, "utf8")) as BenchData & { figures?: unknown };
    delete data.figures;
    writeOutputs(o.outDir, data);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error("the benchmark loads eBPF programs: run it as root");
  for (const tool of ["bpftrace", "perf"]) if (spawnSync(tool, ["--version"]).status !== 0) throw new Error(`${tool} is needed`);
  const began = Date.now();
  const fixtures = JSON.parse(execFileSync("node", [path.join(repo, "scripts/fixtures.mjs")], { encoding: "utf8" })) as Fixtures & { probeHelper?: string };
  const helperSrc = fixtures.probeHelper ?? path.join(repo, "bpf/build/ggml-lens-probe");
  const modelSrc = fixtures.models[o.model];
  if (!modelSrc || !fs.existsSync(modelSrc)) throw new Error("no benchmark model: run `npm run setup -- --bench-models`");
  if (!fs.existsSync(helperSrc)) throw new Error("no probe helper: run `npm run build`");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-bench-"));
  // The helper and the model are pinned for the whole run: a rebuild or a regenerated model
  // elsewhere must not change what is measured halfway.
  const helper = path.join(work, "ggml-lens-probe");
  fs.copyFileSync(helperSrc, helper);
  fs.chmodSync(helper, 0o755);
  const model = path.join(work, path.basename(modelSrc));
  linkModel(modelSrc, model);
  const promptFile = path.join(work, "prompt.txt");
  fs.writeFileSync(promptFile, PROMPT);
  const data: BenchData = {
    date: new Date().toISOString(),
    options: { ...o, threads: THREADS, prompt: PROMPT, modelFile: modelSrc, modelBytes: fs.statSync(modelSrc).size },
    machine: machine(fixtures, helperSrc, helper),
    load: { start: loadAverage(), end: [], busyAtStart: busyProcesses() },
    sites: [],
    runs: [],
    attach: [],
    links: [],
    decode: [],
    moeRuns: [],
    fidelity: { runs: [], bench: [] },
    durationS: 0,
  };
  log(`load average ${data.load.start.join(" ")}; work dir ${work}`);
  const children: ChildProcess[] = [];
  const cleanup = (): void => {
    for (const ch of children) if (ch.exitCode === null) ch.kill("SIGINT");
    removeUprobeEvents();
    if (!o.keep) fs.rmSync(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    // Warm-up: loads the model into the page cache and tells where ggml-lens puts its op probes.
    const ctx: Ctx = { o, work, helper, llama: fixtures.llamaCompletion, model, promptFile, cpuLib: "", perfEvents: [], opKernels: [] };
    const warm = path.join(work, "warmup.stream");
    const w = await launch([helper, "--mode", "full", "--out", warm, "--", ...completionArgs(ctx, ["-n", "4"])],
      { target: "llama-completion", timeoutMs: 10 * 60_000 });
    if (w.code !== 0 || !fs.existsSync(warm)) throw new Error(`warm-up run failed: ${w.stderrTail}`);
    const header = decodeStream(new Uint8Array(fs.readFileSync(warm))).header.info;
    const cpuLib = header.libraries.find((l) => l.roles.includes("ggml-cpu"))?.path;
    if (!cpuLib) throw new Error("the warm-up recording names no ggml-cpu library");
    data.sites = (header.raw.sites as Site[]).map((s) => ({ ...s }));
    data.opMethod = String(header.raw.op_method);
    ctx.cpuLib = cpuLib;
    ctx.perfEvents = createUprobeEvents(cpuLib, data.sites);
    ctx.opKernels = probeableKernels(cpuLib);
    data.opKernels = ctx.opKernels.length;
    log(`op sites: ${data.sites.map((s) => `${s.kind}@0x${s.file_offset.toString(16)}`).join(", ")} in ${cpuLib}`);

    // Figures 2, 3, 4: every variant once per round, the order rotating.
    for (let round = 0; round < o.rounds; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
      for (let position = 0; position < order.length; position++) {
        const rec = await runVariant(ctx, order[position], round, position);
        data.runs.push(rec);
        log(`round ${round + 1}/${o.rounds} ${rec.variant.padEnd(14)} ${rec.ok ? "" : "FAILED "}` +
          `decode ${rec.decodeTokS?.toFixed(2)} tok/s, prompt ${rec.promptTokS?.toFixed(1)} tok/s, ` +
          `target sys ${rec.targetSystemS?.toFixed(2)} s user ${rec.targetUserS?.toFixed(2)} s` +
          hitCounts(rec) + ` (load ${rec.load1.toFixed(2)})` + (rec.error ? ` ${rec.error}` : ""));
      }
    }
    // Figure 2, precise: where the op hits are a large share of the target's time (the tiny model,
    // one thread, short context), its CPU time in nanoseconds says what each costs.
    const tinySrc = fixtures.models.tinyDense;
    if (o.perHitRounds > 0 && tinySrc && fs.existsSync(tinySrc)) {
      const tiny: Ctx = { ...ctx, model: path.join(work, `per-hit-${path.basename(tinySrc)}`), tokens: PER_HIT_TOKENS, threads: 1 };
      linkModel(tinySrc, tiny.model);
      data.perHitModel = { file: tinySrc, tokens: tiny.tokens!, threads: 1 };
      data.perHitRuns = [];
      await runVariant(tiny, "none", -1, 0); // untimed: the first run of a series runs cold
      for (let round = 0; round < o.perHitRounds; round++) {
        for (let position = 0; position < PER_HIT_VARIANTS.length; position++) {
          const rec = await runVariant(tiny, PER_HIT_VARIANTS[(position + round) % PER_HIT_VARIANTS.length], round, position);
          data.perHitRuns.push(rec);
          log(`per-hit round ${round + 1}/${o.perHitRounds} ${rec.variant.padEnd(12)} ${rec.ok ? "" : "FAILED "}target CPU ${rec.targetRunS?.toFixed(4)} s` +
            hitCounts(rec) + (rec.error ? ` ${rec.error}` : ""));
        }
      }
    }
    removeUprobeEvents();

    // Figure 3, MoE: the same on the MoE model, fewer variants.
    const moeSrc = fixtures.models[o.moeModel];
    if (o.moeRounds > 0 && moeSrc && fs.existsSync(moeSrc)) {
      const moe: Ctx = { ...ctx, work: path.join(work, "moe"), model: path.join(work, path.basename(moeSrc)) };
      fs.mkdirSync(moe.work);
      linkModel(moeSrc, moe.model);
      data.moeModelFile = moeSrc;
      for (let round = 0; round < o.moeRounds; round++) {
        for (let position = 0; position < MOE_VARIANTS.length; position++) {
          const rec = await runVariant(moe, MOE_VARIANTS[(position + round) % MOE_VARIANTS.length], round, position);
          data.moeRuns.push(rec);
          log(`MoE round ${round + 1}/${o.moeRounds} ${rec.variant.padEnd(14)} ${rec.ok ? "" : "FAILED "}decode ${rec.decodeTokS?.toFixed(2)} tok/s` +
            (rec.error ? ` ${rec.error}` : ""));
        }
      }
    }

    // Figure 6: fidelity.
    for (let round = 0; round < o.fidelityRounds; round++) {
      const file = path.join(work, `fidelity-${round}.stream`);
      const r = await launch([helper, "--mode", "full", "--sample-hz", "999", "--out", file, "--", ...completionArgs(ctx)],
        { target: "llama-completion", timeoutMs: 15 * 60_000 });
      if (r.code === 0 && fs.existsSync(file)) data.fidelity.runs.push(fidelityOf(file));
      const bench = benchAgainstProfile(helper, fixtures.llamaBench, model, path.join(work, `llama-bench-${round}.stream`), THREADS);
      data.fidelity.bench.push(bench);
      log(`fidelity round ${round + 1}/${o.fidelityRounds}: ${data.fidelity.runs.length} op-share runs; llama-bench ` +
        `${bench.llamaBenchTokS.toFixed(2)} tok/s, profile ${bench.profileTokS.toFixed(2)} tok/s${bench.error ? ` ${bench.error}` : ""}`);
      if (fs.existsSync(file)) fs.rmSync(file);
    }

    // Figure 1.
    const monitor = await startLinkMonitor(data.links);
    children.push(monitor);
    const a = await attachDetach(ctx, data.links);
    await stopProcess(monitor);
    data.attach = a.runs;
    data.attachTargetSurvived = a.targetSurvived;

    // Figure 3's direct measure: default mode attached and detached in turns on one target.
    if (o.alternationCycles > 0) data.alternation = await measureAlternation(ctx);

    // Figure 5: the largest recording made.
    const candidates = [a.longStream, ...data.runs.map((r) => r.stream)].filter((f): f is string => !!f && fs.existsSync(f));
    const largest = candidates.sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0];
    if (largest) {
      log(`decode speed on ${path.basename(largest)} (${(fs.statSync(largest).size / 2 ** 20).toFixed(1)} MiB)`);
      data.decodeFile = path.basename(largest);
      const speed = decodeSpeed(largest, o.decodeRepeats);
      data.decode = speed.runs;
      data.decodeCold = speed.cold;
      data.decodeWarmups = speed.warmups;
      data.decodeRecordsStart = speed.recordsStart;
    }
  } finally {
    data.load.end = loadAverage();
    data.durationS = (Date.now() - began) / 1000;
    cleanup();
  }
  for (const r of data.runs) delete r.stream;
  writeOutputs(o.outDir, data);
  log(`done in ${(data.durationS / 60).toFixed(1)} min; wrote ${path.relative(process.cwd(), o.outDir) || "."}/results.md and results.json`);
}

main().catch((err) => {
  process.stderr.write(`bench: error: ${(err as Error).message}\n`);
  removeUprobeEvents();
  process.exit(1);
});
