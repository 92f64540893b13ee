// Figures from the raw runs of scripts/bench/run.ts, and bench/results.md.
import fs from "node:fs";
import path from "node:path";
import type { BenchComparison, FidelityRun } from "./fidelity";
import { bootstrapInterval, describe, spread, sum, type Spread } from "./stats";
import { windowCostMs, type WindowExcess } from "./windows";
import { ATTACH_S, summarize as summarizeAlternation, type AlternationResult } from "./alternation";

export interface RunRecord {
  round: number;
  position: number;
  variant: string;
  ok: boolean;
  error?: string;
  load1: number;
  /** ms waited for a quiet machine before the run, and the CPUs busy in the last second of that wait */
  quietWaitMs: number;
  busyCoresBefore: number;
  /** CPU seconds used by everything else on the machine while the target generated */
  foreignCpuS?: number;
  wallMs: number;
  exit: number | null;
  promptMs?: number;
  promptTokens?: number;
  evalMs?: number;
  evalRuns?: number;
  /** prompt eval + eval, as llama.cpp times them */
  computeMs?: number;
  decodeTokS?: number;
  promptTokS?: number;
  /** the target's CPU time from its "generate:" log line to its "eval time" line */
  targetUserS?: number;
  targetSystemS?: number;
  /** ... on the CPU, user and system together, in schedstat's nanoseconds (stat's ticks are 10 ms) */
  targetRunS?: number;
  snapshotGapMs?: number;
  /** ggml-lens-probe's own CPU time over the same interval */
  helperCpuS?: number;
  attachedMs?: number;
  records?: number;
  /** OP_BEGIN + OP_END records in the stream (op probe hits that produced data) */
  opRecords?: number;
  streamBytes?: number;
  hits?: Record<string, number>;
  lost?: Record<string, number>;
  windows?: number;
  streamErrors?: string[];
  stream?: string;
  perfCounts?: Record<string, number>;
  launcherPid?: number;
}

export interface AttachRun {
  /** -1: the default-mode window run and the long full-mode run */
  round: number;
  mode: string;
  args: string[];
  seconds: number;
  ok: boolean;
  error?: string;
  wallMs: number;
  load1: number;
  /** helper start to its "attached" line, ms */
  startupMs?: number;
  /** helper exit minus "attached" line minus --duration, ms */
  tailMs?: number;
  attachedMs: number;
  /** this helper's link attaches and detaches */
  links: LinkEvent[];
  records?: number;
  opRecords?: number;
  hits?: Record<string, number>;
  lost?: Record<string, number>;
  windows?: number;
  /** default mode: what each window added to the decode calls around it (scripts/bench/windows.ts) */
  windowExcess?: WindowExcess[];
  /** the trailer's program_cost: runs and ns per BPF program, kept by the kernel (bpf_stats on for this run) */
  programCost?: Record<string, { runs: number; ns: number }>;
  /** "steady": default mode as it ships, attached for long; its helper's CPU read apart from start-up */
  purpose?: "steady";
  /** steady run: the helper's CPU time from 3 s after attaching to 1 s before the end, % of one core */
  helperCpuPct?: number;
}

/** One BPF link of ggml-lens-probe attached (L: the bpf(BPF_LINK_CREATE) call) or detached (D: close() entry to the next syscall). */
export interface LinkEvent {
  kind: "L" | "D";
  pid: number;
  ns: number;
  durNs: number;
  fd: number;
  /** bpf_attach_type: 48 uprobe_multi, 41 perf event (single uprobe, timer), 23 raw tracepoint */
  type: number;
}

export interface DecodeRun {
  events: number;
  bytes: number;
  decodeMs: number;
  buildMs: number;
  spans: number;
}

export interface BenchData {
  date: string;
  options: Record<string, unknown> & { rounds: number; tokens: number; threads: number; quick: boolean };
  machine: {
    cpuModel: string;
    cores: number;
    memoryGiB: number;
    kernel: string;
    debian: string;
    hardwarePmu: boolean;
    llamaCppTag: string;
    llamaCppVersion: string;
    ggmlLensVersion: string;
    gitCommit: string;
    gitDirty: string[];
    helperSha256: string;
    helperPath: string;
    node: string;
    bpftrace: string;
    perf: string;
  };
  load: { start: number[]; end: number[]; busyAtStart: string[] };
  sites: Array<{ index: number; kind: string; file_offset: number; what: string }>;
  opMethod?: string;
  runs: RunRecord[];
  attach: AttachRun[];
  attachTargetSurvived?: boolean;
  /** default mode attached and detached in turns on one running target (scripts/bench/alternation.ts) */
  alternation?: AlternationResult;
  links: LinkEvent[];
  decodeFile?: string;
  /** byte offset of the first record in that file (the decoder copies the records when it is not 4-aligned) */
  decodeRecordsStart?: number;
  decode: DecodeRun[];
  /** The first build of the decode file in the process (the JIT's first compilations, fresh memory), not in `decode`. */
  decodeCold?: DecodeRun;
  /** The builds between the first and the timed ones (absent: one warm-up build, as bench runs before 0.1.0 did). */
  decodeWarmups?: DecodeRun[];
  /** exported op kernels the bpftrace-ops peer probes */
  opKernels?: number;
  /** figure 3 on the MoE model */
  moeModelFile?: string;
  moeRuns: RunRecord[];
  /** figure 2, precise: the same per-hit comparison on the tiny model with one thread (perHitModel) */
  perHitRuns?: RunRecord[];
  perHitModel?: { file: string; tokens: number; threads: number };
  /** figure 6 */
  fidelity: { runs: FidelityRun[]; bench: BenchComparison[] };
  durationS: number;
}

const THREADS = 2;
const DECODE_TARGET = 5e6;
const PER_HIT_TARGET = 1.2;
const DEFAULT_TARGET_PCT = 1;

type Pairs = Map<number, Map<string, RunRecord>>;

/**
 * A run during which something else on the machine used more than this much CPU (seconds) is left
 * out of the figures: two compute threads on two cores stall whenever a third task gets a core.
 */
export const DISTURBED_CPU_S = 0.5;
export const usable = (r: RunRecord): boolean => r.ok && !((r.foreignCpuS ?? 0) > DISTURBED_CPU_S);

function byRound(runs: RunRecord[]): Pairs {
  const m: Pairs = new Map();
  for (const r of runs) {
    if (!usable(r)) continue;
    if (!m.has(r.round)) m.set(r.round, new Map());
    m.get(r.round)?.set(r.variant, r);
  }
  return m;
}

export const opHits = (r: RunRecord): number => (r.hits ? (r.hits.op_begin ?? 0) + (r.hits.op_fused ?? 0) + (r.hits.op_end ?? 0) : NaN);
/** Traps of the always-on probes that fire as graphs are computed: the trailer counts the backend
 * API's calls (graphs given to a backend or the scheduler, copies) at entry only, and each returns
 * through its uretprobe too. */
const fixedUprobeHits = (r: RunRecord): number => {
  const h = r.hits;
  if (!h) return NaN;
  return (h.decode_enter ?? 0) + (h.decode_exit ?? 0) + (h.graph_enter ?? 0) + (h.graph_exit ?? 0) + 2 * ((h.backend_graph ?? 0) + (h.tensor_copy ?? 0));
};
/** All uprobe traps, the backends' and devices' names (asked at start-up, entry and return) included. */
const uprobeHits = (r: RunRecord): number => opHits(r) + fixedUprobeHits(r) + 2 * (r.hits?.backend_name ?? 0);
export const perfHits = (r: RunRecord): number => (r.perfCounts ? sum(Object.values(r.perfCounts)) : NaN);

/** per round: f(round's runs) when every named variant ran fine in that round */
function perRound(p: Pairs, need: string[], f: (v: Map<string, RunRecord>) => number): number[] {
  const out: number[] = [];
  for (const v of p.values()) if (need.every((n) => v.has(n))) out.push(f(v));
  return out;
}

/**
 * Figure 2, precise: per round, the CPU time (schedstat ns) each op probe hit adds to the tiny
 * model's one-thread run (lens-full - lens-sample over op hits) and each empty uprobe on the same
 * sites (perf-empty - none over perf's count); their ratio per round and pooled over the rounds.
 */
function preciseFigure(runs: RunRecord[]) {
  const p = byRound(runs);
  const cpu = (v: Map<string, RunRecord>, n: string): number => v.get(n)?.targetRunS ?? NaN;
  const lensDelta = (v: Map<string, RunRecord>) => cpu(v, "lens-full") - cpu(v, "lens-sample");
  const emptyDelta = (v: Map<string, RunRecord>) => cpu(v, "perf-empty") - cpu(v, "none");
  const lensHits = (v: Map<string, RunRecord>) => opHits(v.get("lens-full") as RunRecord);
  const emptyHits = (v: Map<string, RunRecord>) => perfHits(v.get("perf-empty") as RunRecord);
  const all = ["none", "perf-empty", "lens-sample", "lens-full"];
  const rounds = perRound(p, all, (v) => v.size);
  const lensUs = perRound(p, all, (v) => (lensDelta(v) / lensHits(v)) * 1e6);
  const emptyUs = perRound(p, all, (v) => (emptyDelta(v) / emptyHits(v)) * 1e6);
  // rounds where a reading is missing (the target ended before its last line was read) are left out
  const kept = perRound(p, all, (v) => (all.every((n) => !Number.isNaN(cpu(v, n))) ? 1 : 0));
  const pooled = (delta: typeof lensDelta, hits: typeof lensHits) => {
    const only = (f: typeof lensDelta) => perRound(p, all, f).filter((_, i) => kept[i] === 1);
    return sum(only(delta)) / sum(only(hits));
  };
  // each variant's median over the rounds: a run disturbed once (the first of a series runs cold) moves
  // no median; and the same over its CPU times drawn with replacement, each variant's on its own
  const times = all.map((n) => perRound(p, all, (v) => cpu(v, n)).filter((x) => !Number.isNaN(x)));
  const hitsMedian = (f: typeof lensHits) => spread(perRound(p, all, f))?.median ?? NaN;
  const [lensHitsN, emptyHitsN] = [hitsMedian(lensHits), hitsMedian(emptyHits)];
  const usOfMedians = (without: number[], withProbes: number[], hits: number) => ((medianOf(withProbes) - medianOf(without)) / hits) * 1e6;
  const lensOfMedians = usOfMedians(times[2], times[3], lensHitsN);
  const emptyOfMedians = usOfMedians(times[0], times[1], emptyHitsN);
  const ratioInterval = bootstrapInterval(times, (none, perfEmpty, lensSample, lensFull) =>
    usOfMedians(lensSample, lensFull, lensHitsN) / usOfMedians(none, perfEmpty, emptyHitsN));
  return {
    rounds: rounds.length,
    lensOfMediansUs: lensOfMedians,
    emptyOfMediansUs: emptyOfMedians,
    ratioOfMedians: rounds.length ? lensOfMedians / emptyOfMedians : undefined,
    ratioInterval,
    opHits: spread(perRound(p, all, lensHits)),
    perfHits: spread(perRound(p, all, emptyHits)),
    sampleCpuS: spread(perRound(p, all, (v) => cpu(v, "lens-sample"))),
    lensUs: spread(lensUs),
    emptyUs: spread(emptyUs),
    ratio: spread(lensUs.map((x, i) => (emptyUs[i] > 0 ? x / emptyUs[i] : NaN)).filter((x) => !Number.isNaN(x))),
    pooledRatio: rounds.length ? pooled(lensDelta, lensHits) / pooled(emptyDelta, emptyHits) : undefined,
  };
}

const medianOf = (values: number[]): number => spread(values)?.median ?? NaN;

/** The kernel's own account of the BPF programs' run time (bpf_stats), from the run that kept it. */
function inKernelCost(attach: AttachRun[]): { opProbeNs: number; opRuns: number; sampleNs?: number; run: string } | undefined {
  const run = attach.find((a) => a.programCost?.op_probe?.runs);
  const cost = run?.programCost;
  if (!run || !cost) return undefined;
  const perRun = (name: string) => (cost[name]?.runs ? cost[name].ns / cost[name].runs : undefined);
  return { opProbeNs: perRun("op_probe") as number, opRuns: cost.op_probe.runs, sampleNs: perRun("sample"), run: `--mode ${run.mode} --pid, ${run.seconds} s` };
}

/**
 * BPF ns of the named programs per event they recorded (the trailer's hit count `hit`), from the
 * run that kept program_cost: the scheduler tracepoints also run, and cost, for every other task's
 * switches, which the recorded events do not count.
 */
function programNs(attach: AttachRun[], names: string[], hit: string): number | undefined {
  const run = attach.find((a) => a.programCost?.op_probe?.runs);
  const cost = run?.programCost;
  const events = run?.hits?.[hit] ?? 0;
  return cost && events ? sum(names.map((n) => cost[n]?.ns ?? 0)) / events : undefined;
}

/**
 * Default mode in a long run, part by part, as a share of the target's compute time (each part
 * is counted whole: with the workers spinning at their barriers, a microsecond taken from one of
 * them is a microsecond of wall time): the always-on uprobes (hits per llama_decode call x the
 * thread-time cost of a hit), the timer samples and scheduler events (their count x their BPF
 * time), the helper's CPU time (from the steady run attached to a decoding target when there is
 * one, since a short run's share is mostly the helper's start-up and the prompt's window), and
 * one window every `windowEveryS` at its measured cost.
 */
function defaultBudget(runs: RunRecord[], attach: AttachRun[], hitUs: number | undefined, windowMs: number | undefined, windowEveryS: number) {
  const sampleNs = programNs(attach, ["sample"], "sample");
  const schedNs = programNs(attach, ["sched_switch", "sched_wakeup"], "sched");
  const steadyHelperPct = attach.find((a) => a.ok && a.purpose === "steady")?.helperCpuPct;
  const parts = runs.filter((r) => r.hits && r.computeMs && r.evalRuns).map((r) => {
    const computeS = (r.computeMs as number) / 1000;
    const calls = (r.hits?.decode_enter ?? 0) || 1;
    const callsPerS = ((r.evalRuns as number) + 1) / computeS;
    const fixedPerCall = fixedUprobeHits(r) / calls;
    const pct = (x: number | undefined) => (x === undefined ? undefined : x * 100);
    return {
      uprobes: pct(hitUs === undefined ? undefined : (fixedPerCall * callsPerS * hitUs) / 1e6),
      samples: pct(sampleNs === undefined ? undefined : ((r.hits?.sample ?? 0) / computeS) * sampleNs / 1e9),
      sched: pct(schedNs === undefined ? undefined : ((r.hits?.sched ?? 0) / computeS) * schedNs / 1e9),
      helper: steadyHelperPct ?? pct(r.helperCpuS === undefined ? undefined : r.helperCpuS / computeS),
      windows: pct(windowMs === undefined ? undefined : windowMs / 1000 / windowEveryS),
    };
  });
  const part = (k: keyof (typeof parts)[number]) => spread(parts.map((x) => x[k]));
  const total = spread(parts.map((x) => (Object.values(x).some((v) => v === undefined) ? undefined : sum(Object.values(x) as number[]))));
  return { uprobes: part("uprobes"), samples: part("samples"), sched: part("sched"), helper: part("helper"), windows: part("windows"), total,
    helperFrom: steadyHelperPct === undefined ? "lens-default runs" : "steady run" };
}

/** Figure 1's default-mode run with windows every 0.5 s, whose recording gives a window's cost (not the steady run). */
const isWindowRun = (a: AttachRun): boolean => a.ok && a.mode === "default" && !a.purpose;

export function computeFigures(d: BenchData) {
  const p = byRound(d.runs);
  const g = (v: Map<string, RunRecord>, n: string): RunRecord => v.get(n) as RunRecord;
  const sys = (v: Map<string, RunRecord>, n: string): number => g(v, n).targetSystemS as number;
  const comp = (v: Map<string, RunRecord>, n: string): number => (g(v, n).computeMs as number) / 1000;
  const entrySite = d.sites.find((s) => s.kind === "op_start");
  const entryHits = (v: Map<string, RunRecord>): number =>
    v.get("perf-empty")?.perfCounts?.[`site${entrySite?.index ?? 0}`] ?? g(v, "lens-full").hits?.op_begin ?? NaN;

  // ---- figure 2: cost per hit -------------------------------------------------------------
  const us = 1e6;
  const lensOpSys = perRound(p, ["lens-full", "lens-sample"], (v) => ((sys(v, "lens-full") - sys(v, "lens-sample")) / opHits(g(v, "lens-full"))) * us);
  const lensAllSys = perRound(p, ["lens-full", "none"], (v) => ((sys(v, "lens-full") - sys(v, "none")) / uprobeHits(g(v, "lens-full"))) * us);
  const perfSys = perRound(p, ["perf-empty", "none"], (v) => ((sys(v, "perf-empty") - sys(v, "none")) / perfHits(g(v, "perf-empty"))) * us);
  const btSys = perRound(p, ["bpftrace-empty", "none"], (v) => ((sys(v, "bpftrace-empty") - sys(v, "none")) / entryHits(v)) * us);
  const thr = (a: string, b: string, hits: (v: Map<string, RunRecord>) => number) =>
    perRound(p, [a, b, "lens-full"], (v) => (((comp(v, a) - comp(v, b)) * THREADS) / hits(v)) * us);
  const lensOpThr = thr("lens-full", "lens-sample", (v) => opHits(g(v, "lens-full")));
  const lensAllThr = thr("lens-full", "none", (v) => uprobeHits(g(v, "lens-full")));
  const perfThr = perRound(p, ["perf-empty", "none"], (v) => (((comp(v, "perf-empty") - comp(v, "none")) * THREADS) / perfHits(g(v, "perf-empty"))) * us);
  const btThr = thr("bpftrace-empty", "none", entryHits);
  const ratio = (a: string, b: string, num: (v: Map<string, RunRecord>) => number, den: (v: Map<string, RunRecord>) => number) =>
    perRound(p, ["lens-full", "lens-sample", "none", a, b].filter((x, i, all) => all.indexOf(x) === i), (v) => (den(v) > 0 ? num(v) / den(v) : NaN));
  const lensOpSysOf = (v: Map<string, RunRecord>) => (sys(v, "lens-full") - sys(v, "lens-sample")) / opHits(g(v, "lens-full"));
  const perfSysOf = (v: Map<string, RunRecord>) => (sys(v, "perf-empty") - sys(v, "none")) / perfHits(g(v, "perf-empty"));
  const btSysOf = (v: Map<string, RunRecord>) => (sys(v, "bpftrace-empty") - sys(v, "none")) / entryHits(v);
  const fullRuns = d.runs.filter((r) => usable(r) && r.variant === "lens-full");
  const perfRuns = d.runs.filter((r) => usable(r) && r.variant === "perf-empty");
  const countsAgree = perfRuns.length > 0 && fullRuns.length > 0 && perfHits(perfRuns[0]) === opHits(fullRuns[0]);
  const fig2 = {
    opHitsFull: spread(fullRuns.map(opHits)),
    uprobeHitsFull: spread(fullRuns.map(uprobeHits)),
    perfHits: spread(perfRuns.map(perfHits)),
    perfCountsEqualLensOpHits: countsAgree,
    entryHits: spread(perRound(p, ["lens-full"], entryHits)),
    perHitSystemUs: { lensOp: spread(lensOpSys), lensAll: spread(lensAllSys), perfEmpty: spread(perfSys), bpftraceEmpty: spread(btSys) },
    perHitThreadUs: { lensOp: spread(lensOpThr), lensAll: spread(lensAllThr), perfEmpty: spread(perfThr), bpftraceEmpty: spread(btThr) },
    ratioSystem: {
      lensOpVsPerfEmpty: spread(ratio("perf-empty", "lens-full", lensOpSysOf, perfSysOf)),
      lensOpVsBpftraceEmpty: spread(ratio("bpftrace-empty", "lens-full", lensOpSysOf, btSysOf)),
    },
    target: PER_HIT_TARGET,
    inKernel: inKernelCost(d.attach),
    precise: d.perHitRuns?.length ? preciseFigure(d.perHitRuns) : undefined,
  };

  // ---- figure 3: overhead ------------------------------------------------------------------
  const variants = ["none-b", "lens-sample", "lens-default", "lens-full", "bpftrace-empty", "perf-empty", "bpftrace-ops", "perf-record"];
  const decodeRatio: Record<string, Spread | undefined> = {};
  const promptRatio: Record<string, Spread | undefined> = {};
  const sysDelta: Record<string, Spread | undefined> = {};
  const userDelta: Record<string, Spread | undefined> = {};
  for (const n of variants) {
    decodeRatio[n] = spread(perRound(p, [n, "none"], (v) => (g(v, n).decodeTokS as number) / (g(v, "none").decodeTokS as number)));
    promptRatio[n] = spread(perRound(p, [n, "none"], (v) => (g(v, n).promptTokS as number) / (g(v, "none").promptTokS as number)));
    sysDelta[n] = spread(perRound(p, [n, "none"], (v) => sys(v, n) - sys(v, "none")));
    userDelta[n] = spread(perRound(p, [n, "none"], (v) => (g(v, n).targetUserS as number) - (g(v, "none").targetUserS as number)));
  }
  const abs: Record<string, Record<string, Spread | undefined>> = {};
  for (const n of ["none", ...variants]) {
    const runs = d.runs.filter((r) => usable(r) && r.variant === n);
    abs[n] = {
      decodeTokS: spread(runs.map((r) => r.decodeTokS)),
      promptTokS: spread(runs.map((r) => r.promptTokS)),
      targetSystemS: spread(runs.map((r) => r.targetSystemS)),
      targetUserS: spread(runs.map((r) => r.targetUserS)),
      helperCpuS: spread(runs.map((r) => r.helperCpuS)),
      attachedMs: spread(runs.map((r) => r.attachedMs)),
      uprobeHits: spread(runs.map((r) => (r.hits ? uprobeHits(r) : undefined))),
      opHits: spread(runs.map((r) => (r.hits ? opHits(r) : undefined))),
      sampleHits: spread(runs.map((r) => r.hits?.sample)),
      schedHits: spread(runs.map((r) => r.hits?.sched)),
      windows: spread(runs.map((r) => r.windows)),
      foreignCpuS: spread(runs.map((r) => r.foreignCpuS)),
    };
  }
  const cSys = spread(lensOpSys)?.median; // us of kernel time per op-probe hit
  const cThr = spread(lensOpThr)?.median; // us of thread time per op-probe hit
  const modelled = (n: string, c: number | undefined) =>
    c === undefined
      ? undefined
      : spread(perRound(p, [n, "none"], (v) => ((uprobeHits(g(v, n)) * c) / 1e6 / (THREADS * comp(v, "none"))) * 100));
  // default mode's windows: how many graphs each traced, and op_end hits with no op start before them
  const startsPerGraph = spread(d.runs.filter((r) => r.ok && r.variant === "lens-full" && r.hits)
    .map((r) => ((r.hits?.op_begin ?? 0) + (r.hits?.op_fused ?? 0)) / (r.hits?.graph_enter ?? 1)))?.median;
  const windowsOf = (runs: Array<{ hits?: Record<string, number>; windows?: number; opRecords?: number }>) => {
    const withHits = runs.filter((r) => r.hits && r.windows);
    const starts = (r: { hits?: Record<string, number> }) => (r.hits?.op_begin ?? 0) + (r.hits?.op_fused ?? 0);
    const perWindow = (f: (r: { hits?: Record<string, number>; windows?: number; opRecords?: number }) => number) =>
      spread(withHits.map((r) => f(r) / (r.windows as number)));
    return {
      windows: spread(withHits.map((r) => r.windows)),
      opHitsPerWindow: perWindow((r) => opHits(r as RunRecord)),
      /** graphs' worth of op starts trapped per window, and graphs recorded per window */
      startGraphsPerWindow: startsPerGraph ? perWindow((r) => starts(r) / startsPerGraph) : undefined,
      recordedGraphsPerWindow: startsPerGraph
        ? spread(withHits.filter((r) => r.opRecords !== undefined).map((r) => (r.opRecords as number) / 2 / startsPerGraph / (r.windows as number)))
        : undefined,
      /** op probe hits per op record written */
      hitsPerRecord: spread(withHits.filter((r) => r.opRecords).map((r) => opHits(r as RunRecord) / (r.opRecords as number))),
      endsWithoutStart: spread(withHits.map((r) => (r.hits?.op_end ?? 0) - starts(r))),
      endsWithoutStartShare: spread(withHits.map((r) => ((r.hits?.op_end ?? 0) - starts(r)) / opHits(r as RunRecord))),
    };
  };
  const defaultWindows = {
    startsPerGraph,
    overhead: windowsOf(d.runs.filter((r) => r.ok && r.variant === "lens-default")),
    attachRun: windowsOf(d.attach.filter(isWindowRun)),
  };
  // a long run: one window every --window-every (10 s by default), each costing what it cost here
  const WINDOW_EVERY_S = 10;
  const measuredWindows = d.attach.find(isWindowRun)?.windowExcess ?? [];
  const defaultWindowMs = windowCostMs(measuredWindows, 1);
  const steadyStatePct = cSys !== undefined && defaultWindows.overhead.opHitsPerWindow
    ? (defaultWindows.overhead.opHitsPerWindow.median * cSys) / 1e6 / (WINDOW_EVERY_S * THREADS) * 100
    : undefined;
  const control = decodeRatio["none-b"];
  const noiseHalfWidthPct = control ? Math.max(Math.abs(control.q1 - 1), Math.abs(control.q3 - 1)) * 100 : undefined;
  const fig3 = {
    decodeRatio,
    promptRatio,
    systemDeltaS: sysDelta,
    userDeltaS: userDelta,
    absolute: abs,
    perHitUsedUs: { system: cSys, thread: cThr },
    modelledPct: {
      defaultFromSystem: modelled("lens-default", cSys),
      defaultFromThread: modelled("lens-default", cThr),
      fullFromSystem: modelled("lens-full", cSys),
      fullFromThread: modelled("lens-full", cThr),
    },
    defaultWindows,
    steadyStateDefaultPct: steadyStatePct,
    /** one default window (attach, one traced decode call, detach) as measured from the window run's recording */
    window: {
      measured: measuredWindows.length,
      beforeMs: spread(measuredWindows.map((w) => w.before)),
      tracedMs: spread(measuredWindows.flatMap((w) => w.traced)),
      afterMs: spread(measuredWindows.map((w) => w.after)),
      costMs: defaultWindowMs,
      pctAtDefault: defaultWindowMs === undefined ? undefined : (defaultWindowMs / (WINDOW_EVERY_S * 1000)) * 100,
    },
    windowEveryS: WINDOW_EVERY_S,
    budget: defaultBudget(d.runs.filter((r) => r.ok && r.variant === "lens-default"), d.attach, cThr, defaultWindowMs, WINDOW_EVERY_S),
    alternation: d.alternation ? { ...summarizeAlternation(d.alternation), onSeconds: d.alternation.onSeconds, offSeconds: d.alternation.offSeconds } : undefined,
    controlIqrHalfWidthPct: noiseHalfWidthPct,
    onePercentVisible: noiseHalfWidthPct !== undefined && noiseHalfWidthPct < 0.5,
    target: DEFAULT_TARGET_PCT,
  };

  // ---- figure 1: attach / detach -------------------------------------------------------------
  const UPROBE_MULTI = 48; // BPF_TRACE_UPROBE_MULTI
  const PERF_EVENT = 41; // BPF_PERF_EVENT
  const ok = d.attach.filter((a) => a.ok && a.round >= 0);
  const ofMode = (m: string) => ok.filter((a) => a.mode === m);
  const linkMs = (a: AttachRun, kind: string, type?: number) =>
    a.links.filter((e) => e.kind === kind && (type === undefined || e.type === type)).map((e) => e.durNs / 1e6);
  const paired = (f: (a: AttachRun) => number | undefined, op: (x: number, y: number) => number) => {
    const out: number[] = [];
    for (const full of ofMode("full")) {
      const sample = ofMode("sample").find((s) => s.round === full.round);
      const x = f(full);
      const y = sample && f(sample);
      if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y)) out.push(op(x, y));
    }
    return out;
  };
  const nOpLinks = new Set(d.sites.map((s) => s.kind)).size;
  const win = d.attach.find(isWindowRun);
  const perWindow = (kind: string): number[] => {
    const ms = win ? linkMs(win, kind, UPROBE_MULTI) : [];
    const out: number[] = [];
    for (let i = 0; i + nOpLinks <= ms.length; i += nOpLinks) out.push(sum(ms.slice(i, i + nOpLinks)));
    return out;
  };
  const fig1 = {
    opLinks: nOpLinks,
    opAttachMs: spread(ofMode("full").map((a) => sum(linkMs(a, "L", UPROBE_MULTI)))),
    opAttachPerLinkMs: spread(ofMode("full").flatMap((a) => linkMs(a, "L", UPROBE_MULTI))),
    opDetachMs: spread(ofMode("full").map((a) => sum(linkMs(a, "D", UPROBE_MULTI)))),
    opDetachPerLinkMs: spread(ofMode("full").flatMap((a) => linkMs(a, "D", UPROBE_MULTI))),
    singleUprobeDetachPerLinkMs: spread(ok.flatMap((a) => linkMs(a, "D", PERF_EVENT)).filter((x) => x > 1)),
    allAttachMs: { full: spread(ofMode("full").map((a) => sum(linkMs(a, "L")))), sample: spread(ofMode("sample").map((a) => sum(linkMs(a, "L")))) },
    allDetachMs: { full: spread(ofMode("full").map((a) => sum(linkMs(a, "D")))), sample: spread(ofMode("sample").map((a) => sum(linkMs(a, "D")))) },
    detachRatioFullToSample: spread(paired((a) => sum(linkMs(a, "D")), (x, y) => x / y)),
    helperAttachedMs: { full: spread(ofMode("full").map((a) => a.attachedMs)), sample: spread(ofMode("sample").map((a) => a.attachedMs)) },
    helperAttachedRatio: spread(paired((a) => a.attachedMs, (x, y) => x / y)),
    startupMs: { full: spread(ofMode("full").map((a) => a.startupMs)), sample: spread(ofMode("sample").map((a) => a.startupMs)) },
    tailMs: { full: spread(ofMode("full").map((a) => a.tailMs)), sample: spread(ofMode("sample").map((a) => a.tailMs)) },
    tailDiffMs: spread(paired((a) => a.tailMs, (x, y) => x - y)),
    tailRatio: spread(paired((a) => a.tailMs, (x, y) => x / y)),
    windowRun: win ? { seconds: win.seconds, args: win.args, windows: win.windows } : undefined,
    windowAttachMs: spread(perWindow("L")),
    windowDetachMs: spread(perWindow("D")),
    targetSurvived: d.attachTargetSurvived,
  };

  // ---- figure 4: lost events -------------------------------------------------------------------
  const lostRows = [
    ...d.runs.filter((r) => r.variant === "lens-full" && r.lost).map((r) => ({
      where: `overhead round ${r.round + 1}`, decodes: r.hits?.decode_enter ?? 0, lost: sum(Object.values(r.lost ?? {})), records: r.records ?? 0, opHits: opHits(r),
    })),
    ...d.attach.filter((a) => a.mode === "full" && a.lost).map((a) => ({
      where: a.round < 0 ? `--pid, ${a.seconds} s (long)` : `--pid, ${a.seconds} s, round ${a.round + 1}`,
      decodes: a.hits?.decode_enter ?? 0, lost: sum(Object.values(a.lost ?? {})), records: a.records ?? 0,
      opHits: a.hits ? (a.hits.op_begin ?? 0) + (a.hits.op_fused ?? 0) + (a.hits.op_end ?? 0) : 0,
    })),
  ];
  const fig4 = { runs: lostRows, totalLost: sum(lostRows.map((r) => r.lost)), totalRecords: sum(lostRows.map((r) => r.records)) };

  // ---- figure 5: decode speed ---------------------------------------------------------------------
  const rate = (f: (r: DecodeRun) => number) => spread(d.decode.map((r) => r.events / (f(r) / 1000)));
  const eventsPerS = (r: DecodeRun): number => r.events / ((r.decodeMs + r.buildMs) / 1000);
  const both = rate((r) => r.decodeMs + r.buildMs);
  const fig5 = {
    file: d.decodeFile,
    events: d.decode[0]?.events,
    bytes: d.decode[0]?.bytes,
    eventsPerS: both,
    decodeOnlyEventsPerS: rate((r) => r.decodeMs),
    buildOnlyEventsPerS: rate((r) => r.buildMs),
    /** Op records (begin and end, two per span) per second: the costly part, comparable across record mixes. */
    opRecordsPerS: spread(d.decode.map((r) => (2 * r.spans) / ((r.decodeMs + r.buildMs) / 1000))),
    opRecordShare: d.decode[0] ? (2 * d.decode[0].spans) / d.decode[0].events : undefined,
    coldEventsPerS: d.decodeCold ? eventsPerS(d.decodeCold) : undefined,
    /** The seven builds after the first: what runs with one warm-up build timed. */
    afterOneWarmup: d.decodeWarmups ? spread([...d.decodeWarmups, ...d.decode].slice(0, 7).map(eventsPerS)) : undefined,
    ratioToTarget: both ? spread(d.decode.map((r) => eventsPerS(r) / DECODE_TARGET)) : undefined,
    target: DECODE_TARGET,
  };
  return { fig1, fig2, fig3, fig4, fig5, fig3moe: moeFigures(d.moeRuns ?? []), fig6: fidelityFigures(d.fidelity ?? { runs: [], bench: [] }) };
}

/** Decode and prompt tokens/s ratios to `none` of the same round, and system-time deltas, on the MoE model. */
function moeFigures(runs: RunRecord[]) {
  const p = byRound(runs);
  const out: Record<string, { decode?: Spread; prompt?: Spread; systemDeltaS?: Spread }> = {};
  for (const n of ["lens-sample", "lens-default", "lens-full"]) {
    const ratio = (k: "decodeTokS" | "promptTokS") => spread(perRound(p, [n, "none"], (v) => (v.get(n)?.[k] as number) / (v.get("none")?.[k] as number)));
    out[n] = { decode: ratio("decodeTokS"), prompt: ratio("promptTokS"),
      systemDeltaS: spread(perRound(p, [n, "none"], (v) => (v.get(n)?.targetSystemS as number) - (v.get("none")?.targetSystemS as number))) };
  }
  return { rounds: p.size, ratios: out, noneDecodeTokS: spread(runs.filter((r) => usable(r) && r.variant === "none").map((r) => r.decodeTokS)) };
}

const FIDELITY_SHARE_PP = 3;
const COVERAGE_TARGET = 0.95;

/** Op shares by spans against by tagged samples (percentage points), coverage, llama-bench against the profile. */
function fidelityFigures(f: { runs: FidelityRun[]; bench: BenchComparison[] }) {
  const ops = new Set(f.runs.flatMap((r) => Object.keys(r.shares)));
  const perOp = [...ops].map((op) => {
    const spans = f.runs.map((r) => (r.shares[op]?.spans ?? 0) * 100);
    const samples = f.runs.map((r) => (r.shares[op]?.samples ?? 0) * 100);
    const diff = f.runs.map((_, i) => samples[i] - spans[i]);
    return { op, spansPct: spread(spans), samplesPct: spread(samples), diffPp: spread(diff) };
  }).sort((a, b) => (b.spansPct?.median ?? 0) - (a.spansPct?.median ?? 0));
  const maxAbsDiff = perOp.reduce((m, o) => Math.max(m, Math.abs(o.diffPp?.median ?? 0)), 0);
  const ok = f.bench.filter((b) => !b.error);
  return {
    perOp,
    maxAbsDiffPp: f.runs.length ? maxAbsDiff : undefined,
    samples: spread(f.runs.map((r) => r.taggedSamples)),
    untagged: spread(f.runs.map((r) => r.untaggedSamples)),
    coverageOverall: spread(f.runs.map((r) => r.coverageOverall)),
    insideSpans: spread(f.runs.map((r) => r.insideSpansOverall)),
    coverageMin: spread(f.runs.map((r) => Math.min(...r.coverage))),
    coverageP05: spread(f.runs.map((r) => [...r.coverage].sort((a, b) => a - b)[Math.floor(r.coverage.length * 0.05)])),
    bench: { llamaBench: spread(ok.map((b) => b.llamaBenchTokS)), profile: spread(ok.map((b) => b.profileTokS)),
      ratio: spread(ok.map((b) => b.profileTokS / b.llamaBenchTokS)), calls: spread(ok.map((b) => b.decodeCalls)), errors: f.bench.filter((b) => b.error).map((b) => b.error) },
  };
}

export type Figures = ReturnType<typeof computeFigures>;

// ---- markdown ------------------------------------------------------------------------------------

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const interval = (i: [number, number] | undefined) => (i ? ` (95% bootstrap interval ${f2(i[0])}% to ${f2(i[1])}%)` : "");
const pct = (x: number) => `${(x * 100 - 100 >= 0 ? "+" : "")}${(x * 100 - 100).toFixed(1)}%`;
const mEv = (x: number) => `${(x / 1e6).toFixed(2)}M`;

function cell(s: Spread | undefined, fmt: (x: number) => string): string {
  return s ? `${fmt(s.median)} | ${fmt(s.q1)} to ${fmt(s.q3)} | ${fmt(s.min)} to ${fmt(s.max)}` : "n/a | | ";
}

/** The report's lines that give a target's verdict as not met. */
export function missedTargets(markdown: string): string[] {
  return markdown.split("\n").filter((line) => line.includes("**not met**")).map((line) => line.replace(/\*\*/g, "").trim().slice(0, 200));
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? "not measured" : pass ? "**met**" : "**not met**";
}

/** What tokens/s say about the default-mode target, given the A/A control's spread. */
function tokensVerdict(dr: Spread | undefined, ctl: Spread | undefined, onePercentVisible: boolean, targetPct: number): string {
  if (!dr || !ctl) return ", not measured by tokens/s";
  if (onePercentVisible) return `, ${verdict(1 - dr.median <= targetPct / 100)} by tokens/s`;
  if (dr.q3 < ctl.q1 && 1 - dr.median > targetPct / 100)
    return `; by tokens/s **not met** either: its interquartile range (${pct(dr.q1)} to ${pct(dr.q3)}) lies below the A/A control's`;
  return ", not decidable by tokens/s";
}

function writeMoeAndFidelity(L: string[], d: BenchData, f: Figures): void {
  const m = f.fig3moe;
  const r3 = (x: number) => x.toFixed(3);
  if (m.rounds > 0) {
    L.push("## 3b. Overhead on the MoE model", "");
    L.push(`\`${d.moeModelFile ? d.moeModelFile.split("/").pop() : "benchMoe"}\`, ${m.rounds} rounds of \`none\` and the three modes, interleaved as above; ` +
      `\`none\` decodes ${m.noneDecodeTokS ? m.noneDecodeTokS.median.toFixed(2) : "?"} tok/s.`, "");
    L.push("| variant | decode tok/s ratio: median | IQR | range | prompt tok/s ratio: median | IQR | range | system delta s (median) |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const [n, v] of Object.entries(m.ratios))
      L.push(`| ${n} | ${cell(v.decode, r3)} | ${cell(v.prompt, r3)} | ${v.systemDeltaS ? r3(v.systemDeltaS.median) : "n/a"} |`);
    L.push("");
  }
  const g = f.fig6;
  L.push("## 6. Fidelity", "");
  L.push(`Op-type shares of time from the op spans against the shares of the helper's own timer samples (999 Hz, each tagged with the op its ` +
    `thread ran when the timer fired; a fused group counts under its first op), in the same \`--mode full\` runs (${d.fidelity?.runs.length ?? 0}): ` +
    `${g.samples ? g.samples.median.toFixed(0) : "?"} tagged samples per run (${g.untagged ? g.untagged.median.toFixed(0) : "?"} outside ops). ` +
    `Shares in %, difference in percentage points (samples - spans):`, "");
  L.push("| op | spans % | samples % | difference pp: median | IQR | range |", "| --- | --- | --- | --- | --- | --- |");
  for (const o of g.perOp.filter((x) => (x.spansPct?.median ?? 0) >= 0.5 || Math.abs(x.diffPp?.median ?? 0) >= 0.5))
    L.push(`| ${o.op} | ${o.spansPct ? o.spansPct.median.toFixed(1) : "?"} | ${o.samplesPct ? o.samplesPct.median.toFixed(1) : "?"} | ${cell(o.diffPp, (x) => x.toFixed(2))} |`);
  L.push("", `Largest difference ${g.maxAbsDiffPp === undefined ? "n/a" : `${g.maxAbsDiffPp.toFixed(2)} pp`}; target within ${FIDELITY_SHARE_PP} pp: ` +
    `${verdict(g.maxAbsDiffPp === undefined ? undefined : g.maxAbsDiffPp <= FIDELITY_SHARE_PP)}.`, "");
  L.push(`Share of each graph's compute time (graph begin to end) that op tracing accounts for on each worker thread (each op from its ` +
    `start to the next op's start: its span, then its wait at the barrier; the last op to the graph's end): overall ` +
    `${g.coverageOverall ? (g.coverageOverall.median * 100).toFixed(2) : "?"}%, 5th percentile over (graph, thread) ` +
    `${g.coverageP05 ? (g.coverageP05.median * 100).toFixed(1) : "?"}%, lowest ${g.coverageMin ? (g.coverageMin.median * 100).toFixed(1) : "?"}% ` +
    `(medians over runs); target >= ${COVERAGE_TARGET * 100}% overall: ${verdict(g.coverageOverall ? g.coverageOverall.median >= COVERAGE_TARGET : undefined)}. ` +
    `Inside the op spans alone (compute, without the barrier waits): ${g.insideSpans ? (g.insideSpans.median * 100).toFixed(1) : "?"}%.`, "");
  const b = g.bench;
  L.push("llama-bench (`-p 0 -n 32 -r 3`, 2 threads) under `ggml-lens-probe --mode sample`: its own tokens/s against the " +
    "profile's one-token llama_decode calls (tokens over their summed durations, llama-bench's warm-up call left out):", "");
  L.push("| | median | IQR | range |", "| --- | --- | --- | --- |");
  L.push(`| llama-bench tok/s | ${cell(b.llamaBench, (x) => x.toFixed(2))} |`);
  L.push(`| profile tok/s | ${cell(b.profile, (x) => x.toFixed(2))} |`);
  L.push(`| profile / llama-bench | ${cell(b.ratio, r3)} |`);
  if (b.errors.length) L.push("", ...b.errors.map((e) => `- llama-bench run failed: ${e}`));
  L.push("");
}

export function writeReport(file: string, d: BenchData, f: Figures): string {
  const m = d.machine;
  const o = d.options;
  const L: string[] = [];
  const okRuns = d.runs.filter((r) => r.ok).length;
  const loads = d.runs.map((r) => r.load1);
  L.push(`# ggml-lens capture benchmarks${o.quick ? " (--quick)" : ""}`, "");
  L.push("Generated by `npm run bench` (scripts/bench/); raw numbers in `results.json`. Every figure is measured in this",
    "one run, side by side with its baseline: one run per variant per round, the variants interleaved, their order",
    "rotating from round to round. Spreads are over rounds: median | interquartile range | min to max.", "");
  L.push("## Machine", "");
  L.push("| | |", "| --- | --- |");
  L.push(`| date | ${d.date} |`);
  L.push(`| CPU | ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; hardware PMU: ${m.hardwarePmu ? "yes" : "no"} |`);
  L.push(`| kernel | ${m.kernel} |`, `| Debian | ${m.debian} |`);
  L.push(`| llama.cpp | ${m.llamaCppTag} (${m.llamaCppVersion}) |`);
  L.push(`| ggml-lens | ${m.ggmlLensVersion}, commit ${m.gitCommit}${m.gitDirty.length ? ` with uncommitted changes in ${m.gitDirty.map((x) => x.trim().split(/\s+/).pop()).join(", ")}` : ""}; helper sha256 ${m.helperSha256}…; op method ${d.opMethod ?? "?"} |`);
  L.push(`| tools | node ${m.node}, ${m.bpftrace}, ${m.perf} |`);
  L.push(`| load average (1, 5, 15 min) | start ${d.load.start.join(", ")}; end ${d.load.end.join(", ")}; 1-min load at each run ${f2(Math.min(...loads))} to ${f2(Math.max(...loads))} |`);
  if (d.load.busyAtStart.length) L.push(`| busy processes at start | ${d.load.busyAtStart.join(", ")} |`);
  const foreign = spread(d.runs.map((r) => r.foreignCpuS));
  const waited = sum(d.runs.map((r) => r.quietWaitMs ?? 0)) / 1000;
  L.push(`| other work during the runs | waited ${f0(waited)} s in all for a quiet machine (< 0.25 CPUs busy) before runs; CPU used by ` +
    `anything but the target and its profiler while it generated: ${foreign ? `median ${f2(foreign.median)} s, max ${f2(foreign.max)} s per run` : "n/a"} |`);
  L.push(`| bench | ${(d.durationS / 60).toFixed(1)} min; ${o.rounds} rounds x 7 variants (${okRuns}/${d.runs.length} runs ok); ${o.tokens} tokens per run |`);
  L.push("");
  L.push(`Workload: \`llama-completion -m ${String(o.modelFile).split("/").pop()} -f prompt.txt -n ${o.tokens}` +
    " -no-cnv --temp 0 --ignore-eos -t 2 --no-warmup` (" +
    (o.model === "benchDenseQ4_0" ? "1.1B-class llama, 2048 wide, 16 layers, Q4_0, random weights; " : "NOT the benchmark model: a test of the bench itself; "),
    `${(Number(o.modelBytes) / 2 ** 20).toFixed(0)} MiB). Timings are llama.cpp's own (\`prompt eval time\`, \`eval time\`). The target's user and`,
    "system time are read from /proc/PID/stat (10 ms ticks) when it logs `generate:` and when it logs `eval time`,",
    "so model loading and teardown are left out.", "");
  L.push("Variants: `none` (no probes) and `none-b` (the same again: an A/A control that shows the noise),",
    "`lens-sample`, `lens-default`, `lens-full` (`ggml-lens-probe --mode ...`, default options),",
    "`perf-empty` (empty tracefs uprobes on exactly ggml-lens's op sites, counted per process by `perf stat`),",
    "`bpftrace-empty` (`bpftrace -e 'uprobe:LIB:ggml_cpu_extra_compute_forward {}' -c ...`; bpftrace " +
    "0.17 cannot place a uprobe at an offset, so the barrier call sites are covered by `perf-empty` only),",
    `and the generic peers: \`bpftrace-ops\` (a bpftrace script timing the ${d.opKernels ?? "?"} exported \`ggml_compute_forward_*\` kernels a uprobe can be placed on (not those starting with a VEX-encoded instruction) with a uprobe`,
    "and a uretprobe, summing nanoseconds per kernel), `perf-record` (`perf record -F 999`, timer sampling of the target).", "");
  L.push(`Op sites (${d.sites.length}): ${d.sites.map((s) => `${s.kind} at 0x${s.file_offset.toString(16)} (${s.what})`).join("; ")}.`, "");

  // figure 1
  const f1x = f.fig1;
  L.push("## 1. Attach and detach of the op probes", "");
  L.push("On a running llama-completion (`ggml-lens-probe --pid P --duration 2`), full and sample mode alternating",
    "(sample mode attaches everything but the op probes). This kernel has no kprobes, so bpftrace times the helper's",
    "own system calls: one link *attach* is its `bpf(BPF_LINK_CREATE)` call; one link *detach* is from its `close()`",
    "entry to its next system call (the release runs on the way back to user space). The op probes are",
    `${f1x.opLinks} uprobe_multi links. *Helper* times come from its \`attached in N ms\` line; the *tail* is its exit time`,
    "minus that line minus the duration (detach, trailer and unload, plus up to one turn of the event loop: 100 ms in full mode, 250 ms in the others).", "");
  L.push("| figure | median | IQR | range |", "| --- | --- | --- | --- |");
  L.push(`| op probes attach (ms, ${f1x.opLinks} links) | ${cell(f1x.opAttachMs, f2)} |`);
  L.push(`| op probes attach, per link (ms) | ${cell(f1x.opAttachPerLinkMs, f2)} |`);
  L.push(`| op probes detach (ms, ${f1x.opLinks} links) | ${cell(f1x.opDetachMs, f1)} |`);
  L.push(`| op probes detach, per link (ms) | ${cell(f1x.opDetachPerLinkMs, f1)} |`);
  L.push(`| single (perf-event) uprobe detach, per link (ms) | ${cell(f1x.singleUprobeDetachPerLinkMs, f1)} |`);
  L.push(`| all links attach, full (ms) | ${cell(f1x.allAttachMs.full, f2)} |`);
  L.push(`| all links attach, sample (ms) | ${cell(f1x.allAttachMs.sample, f2)} |`);
  L.push(`| all links detach, full (ms) | ${cell(f1x.allDetachMs.full, f1)} |`);
  L.push(`| all links detach, sample (ms) | ${cell(f1x.allDetachMs.sample, f1)} |`);
  L.push(`| all links detach, full / sample | ${cell(f1x.detachRatioFullToSample, f2)} |`);
  L.push(`| helper "attached in", full (ms) | ${cell(f1x.helperAttachedMs.full, f0)} |`);
  L.push(`| helper "attached in", sample (ms) | ${cell(f1x.helperAttachedMs.sample, f0)} |`);
  L.push(`| helper "attached in", full / sample | ${cell(f1x.helperAttachedRatio, f2)} |`);
  L.push(`| helper start to "attached", full (ms) | ${cell(f1x.startupMs.full, f0)} |`);
  L.push(`| helper tail after --duration, full (ms) | ${cell(f1x.tailMs.full, f0)} |`);
  L.push(`| helper tail after --duration, sample (ms) | ${cell(f1x.tailMs.sample, f0)} |`);
  L.push(`| helper tail, full - sample (ms) | ${cell(f1x.tailDiffMs, f0)} |`);
  L.push(`| helper tail, full / sample | ${cell(f1x.tailRatio, f2)} |`);
  if (f1x.windowRun) {
    L.push(`| default mode, one window's op attach (ms) | ${cell(f1x.windowAttachMs, f2)} |`);
    L.push(`| default mode, one window's op detach (ms) | ${cell(f1x.windowDetachMs, f1)} |`);
  }
  L.push("");
  if (f1x.windowRun) L.push(`Windows: one \`--mode default ${f1x.windowRun.args.join(" ")}\` run of ${f1x.windowRun.seconds} s on the same target (${f1x.windowRun.windows ?? "?"} windows).`);
  L.push(`Target still running after every attach and detach: ${f1x.targetSurvived ? "yes" : "no"}.`, "");

  // figure 2
  const g2 = f.fig2;
  const rSys = g2.ratioSystem.lensOpVsPerfEmpty;
  L.push("## 2. Cost per traced op event against an empty uprobe", "");
  L.push("Per-hit cost = (time with probes - time without) / hits. *System* is the target's system time (uprobe traps",
    "and BPF programs run there); *thread* is llama.cpp's compute wall time x 2 threads. ggml-lens op cost =",
    "`lens-full` - `lens-sample` (which differ only in the op probes) over op hits (op_begin + op_fused + op_end);",
    "empty-uprobe cost = `perf-empty` or `bpftrace-empty` - `none` over their hits.", "");
  L.push(`Hits per run: ggml-lens op probes ${g2.opHitsFull ? f0(g2.opHitsFull.median) : "n/a"} (all uprobes ${g2.uprobeHitsFull ? f0(g2.uprobeHitsFull.median) : "n/a"}); ` +
    `perf-empty ${g2.perfHits ? f0(g2.perfHits.median) : "n/a"} (${g2.perfCountsEqualLensOpHits ? "equal to" : "NOT equal to"} ggml-lens's op hits); ` +
    `bpftrace-empty (entry site) ${g2.entryHits ? f0(g2.entryHits.median) : "n/a"}.`, "");
  L.push("| per-hit cost (us) | median | IQR | range |", "| --- | --- | --- | --- |");
  L.push(`| ggml-lens op probe, system | ${cell(g2.perHitSystemUs.lensOp, f2)} |`);
  L.push(`| empty uprobe (perf, same 4 sites), system | ${cell(g2.perHitSystemUs.perfEmpty, f2)} |`);
  L.push(`| empty uprobe (bpftrace, entry site), system | ${cell(g2.perHitSystemUs.bpftraceEmpty, f2)} |`);
  L.push(`| ggml-lens full vs none (all it adds per uprobe hit), system | ${cell(g2.perHitSystemUs.lensAll, f2)} |`);
  L.push(`| ggml-lens op probe, thread time | ${cell(g2.perHitThreadUs.lensOp, f2)} |`);
  L.push(`| empty uprobe (perf), thread time | ${cell(g2.perHitThreadUs.perfEmpty, f2)} |`);
  L.push(`| empty uprobe (bpftrace), thread time | ${cell(g2.perHitThreadUs.bpftraceEmpty, f2)} |`);
  L.push(`| ggml-lens full vs none per uprobe hit, thread time | ${cell(g2.perHitThreadUs.lensAll, f2)} |`);
  L.push(`| **ratio ggml-lens / empty (perf), system** | ${cell(rSys, f2)} |`);
  L.push(`| ratio ggml-lens / empty (bpftrace), system | ${cell(g2.ratioSystem.lensOpVsBpftraceEmpty, f2)} |`);
  const k = g2.inKernel;
  if (k) {
    L.push("", `In the kernel's own account (kernel.bpf_stats_enabled on for one run, ${k.run}: it adds two clock reads per program run, so`,
      `it is off in the runs above): the op probe's BPF program ran ${f0(k.opRuns)} times, ${f0(k.opProbeNs)} ns per hit` +
      (k.sampleNs !== undefined ? `; the timer sample's program ${f0(k.sampleNs)} ns per sample` : "") + ". The rest of a hit's cost is the uprobe trap itself.");
  }
  const pr = g2.precise;
  if (pr && d.perHitModel) {
    L.push("", `The system time above is counted in 10 ms ticks, a dozen or so per run: too coarse for a per-hit figure. Precisely: ` +
      `\`${path.basename(d.perHitModel.file)}\` with ${d.perHitModel.threads} thread and ${d.perHitModel.tokens} tokens (a short context: each token's compute is ` +
      `small against its op hits), \`none\`, \`perf-empty\`, \`lens-sample\` and \`lens-full\` in turns, ${pr.rounds} rounds; the target's time on the CPU ` +
      `(user and system, /proc/PID/task/*/schedstat, nanoseconds) from its \`generate:\` line to its \`eval time\` line. ` +
      `Hits per run: ggml-lens op probes ${pr.opHits ? f0(pr.opHits.median) : "n/a"}, perf-empty ${pr.perfHits ? f0(pr.perfHits.median) : "n/a"}; ` +
      `\`lens-sample\` used ${pr.sampleCpuS ? f3(pr.sampleCpuS.median) : "?"} s of CPU.`, "");
    L.push("| per-hit cost, CPU time (us) | median | IQR | range |", "| --- | --- | --- | --- |");
    L.push(`| ggml-lens op probe (lens-full - lens-sample) | ${cell(pr.lensUs, f3)} |`);
    L.push(`| empty uprobe (perf-empty - none) | ${cell(pr.emptyUs, f3)} |`);
    L.push(`| **ratio ggml-lens / empty** | ${cell(pr.ratio, f2)} |`);
    L.push("", `From each variant's median CPU time over the rounds (robust to a disturbed run, which a per-round difference is not): ggml-lens ` +
      `${f3(pr.lensOfMediansUs)} us a hit, the empty uprobe ${f3(pr.emptyOfMediansUs)} us, **ratio ${pr.ratioOfMedians === undefined ? "n/a" : f2(pr.ratioOfMedians)}**` +
      `${pr.ratioInterval ? ` (95% bootstrap interval ${f2(pr.ratioInterval[0])} to ${f2(pr.ratioInterval[1])}, each variant's runs resampled)` : ""}. ` +
      `Pooled over the rounds (the deltas summed, over the hits summed): ratio ${pr.pooledRatio === undefined ? "n/a" : f2(pr.pooledRatio)}.`);
  }
  // A ratio per round divides by a difference of a few ticks (or of nanoseconds of a noisy run): the
  // medians' ratios are the verdict's, and it is met only where each measure that was taken says so.
  const sysOfMedians = g2.perHitSystemUs.lensOp && g2.perHitSystemUs.perfEmpty ? g2.perHitSystemUs.lensOp.median / g2.perHitSystemUs.perfEmpty.median : undefined;
  const measures = [
    { ratio: sysOfMedians, what: "the median per-hit system times on the benchmark model" },
    { ratio: pr?.ratioOfMedians, what: "the median CPU times on the tiny model" },
  ].filter((m): m is { ratio: number; what: string } => m.ratio !== undefined && Number.isFinite(m.ratio));
  const met = measures.length ? measures.every((m) => m.ratio <= g2.target) : undefined;
  const straddle = [rSys, pr?.ratio].some((r) => r && r.q1 <= g2.target && g2.target <= r.q3);
  const within = pr?.ratioInterval && pr.ratioInterval[0] <= g2.target && g2.target <= pr.ratioInterval[1];
  L.push("", `Target <= ${g2.target}x the empty uprobe: ${verdict(met)} (ratio ${measures.map((m) => `${f2(m.ratio)} from ${m.what}`).join("; ") || "n/a"}` +
    `${measures.length > 1 ? "; met only where both say so" : ""})` +
    (within ? `; ${g2.target} lies inside the precise ratio's 95% bootstrap interval, so one run does not settle it.`
      : straddle ? `; the interquartile range of a ratio per round straddles ${g2.target}, so one run does not settle it.` : "."), "");

  // figure 3
  const g3 = f.fig3;
  L.push("## 3. Overhead of each mode", "");
  L.push("Ratios to `none` of the same round (tokens/s: below 1 is slower). System and user deltas: target seconds over",
    "the generation, minus `none`'s.", "");
  L.push("| variant | decode tok/s ratio: median | IQR | range | prompt tok/s ratio (median) | system delta s (median) | user delta s (median) |",
    "| --- | --- | --- | --- | --- | --- | --- |");
  for (const n of ["none-b", "lens-sample", "lens-default", "lens-full", "perf-empty", "bpftrace-empty", "bpftrace-ops", "perf-record"]) {
    L.push(`| ${n} | ${cell(g3.decodeRatio[n], f3)} | ${g3.promptRatio[n] ? f3(g3.promptRatio[n].median) : "n/a"} | ` +
      `${g3.systemDeltaS[n] ? f3(g3.systemDeltaS[n].median) : "n/a"} | ${g3.userDeltaS[n] ? f3(g3.userDeltaS[n].median) : "n/a"} |`);
  }
  L.push("", "Absolute values (median over rounds; *other CPU* is what everything else on the machine used meanwhile, this script included):", "");
  L.push("| variant | decode tok/s | prompt tok/s | target system s | target user s | helper CPU s | other CPU s | uprobe hits | op hits | samples | sched events | windows |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [n, a] of Object.entries(g3.absolute)) {
    const c = (s: Spread | undefined, fmt: (x: number) => string) => (s ? fmt(s.median) : "");
    L.push(`| ${n} | ${c(a.decodeTokS, f2)} | ${c(a.promptTokS, f1)} | ${c(a.targetSystemS, f2)} | ${c(a.targetUserS, f2)} | ${c(a.helperCpuS, f2)} | ${c(a.foreignCpuS, f2)} | ` +
      `${c(a.uprobeHits, f0)} | ${c(a.opHits, f0)} | ${c(a.sampleHits, f0)} | ${c(a.schedHits, f0)} | ${c(a.windows, f0)} |`);
  }
  const md = g3.modelledPct;
  L.push("", `Modelled cost = uprobe hits x per-hit cost (figure 2: ${g3.perHitUsedUs.system !== undefined ? f2(g3.perHitUsedUs.system) : "n/a"} us system, ` +
    `${g3.perHitUsedUs.thread !== undefined ? f2(g3.perHitUsedUs.thread) : "n/a"} us thread time) / (2 threads x compute time of \`none\`); timer samples and`,
    "scheduler events are not in it (`lens-sample` measures them):", "");
  L.push("| modelled overhead (%) | median | IQR | range |", "| --- | --- | --- | --- |");
  L.push(`| default mode, system-time cost per hit | ${cell(md.defaultFromSystem, f3)} |`);
  L.push(`| default mode, thread-time cost per hit | ${cell(md.defaultFromThread, f3)} |`);
  L.push(`| full mode, system-time cost per hit | ${cell(md.fullFromSystem, f2)} |`);
  L.push(`| full mode, thread-time cost per hit | ${cell(md.fullFromThread, f2)} |`);
  const dw = g3.defaultWindows;
  const w3 = dw.overhead;
  const w1 = dw.attachRun;
  if (w3.windows) {
    const g = (x: Spread | undefined, fmt = f1) => (x ? fmt(x.median) : "?");
    L.push("", `Default mode's windows (\`--window-every ${g3.windowEveryS} --window-decodes 1\`, the defaults): ${g(w3.windows)} windows per run, ` +
      `${g(w3.opHitsPerWindow, f0)} op probe hits per window. The recording holds ${g(w3.recordedGraphsPerWindow)} graphs per window ` +
      "(the window is gated in the kernel on whole llama_decode calls), but the probes trapped " +
      `${g(w3.startGraphsPerWindow)} graphs' worth of op starts (${dw.startsPerGraph ? f0(dw.startsPerGraph) : "?"} per graph in full mode) ` +
      `and ${g(w3.endsWithoutStart, f0)} more op ends than starts per run (${w3.endsWithoutStartShare ? f0(w3.endsWithoutStartShare.median * 100) : "?"}% of its op hits; ` +
      `in full mode they match one to one): ${g(w3.hitsPerRecord, f2)} probe hits per op record written. ` +
      "Each trap costs the per-hit cost whether or not it records." +
      (w1.windows ? ` In the \`--window-every 0.5\` run of figure 1: ${f0(w1.windows.median)} windows, ${g(w1.recordedGraphsPerWindow)} graphs recorded and ` +
        `${g(w1.startGraphsPerWindow)} graphs' worth of starts trapped per window, ${g(w1.hitsPerRecord, f2)} hits per op record.` : ""));
    if (g3.steadyStateDefaultPct !== undefined)
      L.push("", `In a long run (one window every ${g3.windowEveryS} s, each costing what it cost here) the same model gives ${f2(g3.steadyStateDefaultPct)}% ` +
        `(system-time cost per hit); this bench's ${o.tokens}-token runs open ${g(w3.windows)} windows in a few seconds, so their share is higher.`);
  }
  const win = g3.window;
  if (win.costMs !== undefined && win.pctAtDefault !== undefined) {
    const ms = (x: Spread | undefined) => (x ? `${f2(x.median)} ms (IQR ${f2(x.q1)} to ${f2(x.q3)})` : "?");
    L.push("", `Measured, not modelled: in the recording of figure 1's window run, each window's decode calls against the median of their ` +
      `untraced neighbours (${win.measured} windows): the call during which the op probes were attached took ${ms(win.beforeMs)} more, ` +
      `each traced call ${ms(win.tracedMs)} more, the call during which they were detached ${ms(win.afterMs)} more. ` +
      `The trap count misses the attach and detach (they rewrite the target's code pages under it). One default window ` +
      `(one traced call) so costs ${f2(win.costMs)} ms of decode time: ${f2(win.pctAtDefault)}% at one window every ${g3.windowEveryS} s.`);
  }
  const b = g3.budget;
  if (b.total) {
    L.push("", `Default mode in a long run, part by part (each as a share of the target's compute time in this bench's \`lens-default\` runs; ` +
      "with the workers spinning at their barriers a microsecond taken from one of them is counted as a microsecond of wall time):", "",
      "| part (% of compute time) | median | IQR | range |", "| --- | --- | --- | --- |",
      `| always-on uprobes (traps per llama_decode call, entries and returns of llama_decode, ggml_graph_compute and the backend API, x ${g3.perHitUsedUs.thread === undefined ? "?" : f2(g3.perHitUsedUs.thread)} us thread time) | ${cell(b.uprobes, f3)} |`,
      `| timer samples (hits x the sample program's BPF time per recorded sample) | ${cell(b.samples, f3)} |`,
      `| scheduler events (hits x the sched programs' BPF time per recorded event, their runs for other tasks included) | ${cell(b.sched, f3)} |`,
      `| the helper's CPU time (${b.helperFrom === "steady run" ? "figure 1's steady run: default mode attached to a decoding target, from 3 s after attaching to 1 s before the end" : "over the lens-default runs, start-up and the prompt's window included"}) | ${cell(b.helper, f3)} |`,
      `| op-tracing windows (one every ${g3.windowEveryS} s at the measured cost) | ${cell(b.windows, f3)} |`,
      `| total | ${cell(b.total, f3)} |`);
  }
  const alt = g3.alternation;
  if (alt?.ratio) {
    L.push("", `Measured directly, on one running target (its context of 256 cells shifts when full, so that its tokens/s stays level): ` +
      `default mode attached by PID, then nothing for ${alt.offSeconds} s, ${alt.ratio.n} times, and as often a stand-in ` +
      `that attaches nothing (it says it attached, then sleeps); bpftrace timestamps each token the target writes. Each on phase's tokens/s ` +
      `over ${alt.onSeconds} s from ${ATTACH_S} s after its "attached" line (one window period: the window that opens on attaching is not in it, the next is; ` +
      `the helper's start-up before the line and its teardown after the span are not), against the mean of the off phases on either side: ` +
      `default mode ${f3(alt.ratio.median)} (IQR ${f3(alt.ratio.q1)} to ${f3(alt.ratio.q3)}), the stand-in ` +
      `${alt.standIn ? `${f3(alt.standIn.median)} (IQR ${f3(alt.standIn.q1)} to ${f3(alt.standIn.q3)})` : "n/a"}: ` +
      `default mode's slowdown against the stand-in ${alt.slowdownPct === undefined ? "n/a" : `${f2(alt.slowdownPct)}%`}${interval(alt.slowdownInterval)}. ` +
      `Against their own off phases they come out at ${f2(alt.ownOffPct ?? NaN)}% and ${f2(alt.standInOwnOffPct ?? NaN)}%, but those are not alike: ` +
      `an off phase after default mode ran ${f2(alt.aftermathPct ?? NaN)}%${interval(alt.aftermathInterval)} slower than one after the stand-in ` +
      `(each against the off phases two phases either side), ${f1(((alt.aftermathPct ?? NaN) / 100) * alt.offMeasuredS * 1000)} ms of decode time ` +
      `over its ${f1(alt.offMeasuredS)} s. Whatever the helper leaves behind once it has exited lifts both kinds' ratios to their own ` +
      `off phases alike, and the comparison with the stand-in cancels it. The helper used ` +
      `${alt.helperCpuPct ? `${f3(alt.helperCpuPct.median)}%` : "?"} of a core over the measured spans${alt.failed ? `; ${alt.failed} on phases failed` : ""}.` +
      (alt.attachCostMs ? ` Attaching itself (a one-off, left out of the above): the first ${ATTACH_S} s after the "attached" line lost ` +
        `${f1(alt.attachCostMs.median)} ms of decode time (IQR ${f1(alt.attachCostMs.q1)} to ${f1(alt.attachCostMs.q3)}; the first window is in it), the stand-in's ` +
        `${alt.standInAttachCostMs ? `${f1(alt.standInAttachCostMs.median)} ms (IQR ${f1(alt.standInAttachCostMs.q1)} to ${f1(alt.standInAttachCostMs.q3)})` : "n/a"}.` : ""));
  }
  const dr = g3.decodeRatio["lens-default"];
  const ctl = g3.decodeRatio["none-b"];
  L.push("", `Noise floor: the A/A control (none-b / none) has decode ratio IQR ${ctl ? `${pct(ctl.q1)} to ${pct(ctl.q3)}` : "n/a"}, range ` +
    `${ctl ? `${pct(ctl.min)} to ${pct(ctl.max)}` : "n/a"}. ` +
    (g3.onePercentVisible
      ? "That is tight enough to see a 1% change in tokens/s."
      : "**A 1% change cannot be seen in tokens/s on this machine**: read default mode's cost from the system-time delta and the modelled cost."),
  `Default mode: decode ratio ${dr ? `${f3(dr.median)} (${pct(dr.median)})` : "n/a"}; modelled ${md.defaultFromSystem ? `${f3(md.defaultFromSystem.median)}%` : "n/a"} ` +
    `(system-time cost per hit) / ${md.defaultFromThread ? `${f3(md.defaultFromThread.median)}%` : "n/a"} (thread-time cost per hit)` +
    `${b.total ? `; in a long run, part by part, ${f3(b.total.median)}%` : ""}; ` +
    `target <= ${g3.target}%: ${verdict(b.total ? b.total.median <= g3.target : undefined)} by the parts` +
    `${alt?.slowdownPct === undefined ? "" : `, ${verdict(alt.slowdownPct <= g3.target)} measured directly (alternating on one target)`}` +
    `${tokensVerdict(dr, ctl, g3.onePercentVisible, g3.target)}.`, "");

  // figure 4
  const g4 = f.fig4;
  L.push("## 4. Events lost in full mode", "");
  L.push("| run | decodes | records | op hits | lost |", "| --- | --- | --- | --- | --- |");
  for (const r of g4.runs) L.push(`| ${r.where} | ${r.decodes} | ${r.records} | ${r.opHits} | ${r.lost} |`);
  L.push("", `Total lost: ${g4.totalLost} of ${g4.totalRecords} records; target zero: ${verdict(g4.runs.length ? g4.totalLost === 0 : undefined)}.`, "");

  // figure 5
  const g5 = f.fig5;
  L.push("## 5. Stream decode speed (TypeScript)", "");
  L.push(`\`decodeStream\` + \`buildProfile\` on ${g5.file ?? "n/a"} (${g5.events ?? "?"} records, ${g5.bytes ? (g5.bytes / 2 ** 20).toFixed(1) : "?"} MiB), ` +
    `${d.decode.length} repetitions after ${d.decodeWarmups === undefined ? "one warm-up build" : `${d.decodeWarmups.length + 1} warm-up builds (the JIT compiles the loops over the first few; the first build is shown apart)`}, ` +
    "in the bench's Node process. `decodeStream` only walks the records and indexes them " +
    "by type; their columns are read on first access, inside `buildProfile`, so the rows below do not split the cost: read the first." +
    (d.decodeRecordsStart === undefined ? "" : ` Records start at byte ${d.decodeRecordsStart} of the file ` +
      `(${d.decodeRecordsStart % 4 === 0 ? "4-byte aligned" : "not 4-byte aligned: decodeStream copies the whole record region first"}).`), "");
  L.push("| events/s | median | IQR | range |", "| --- | --- | --- | --- |");
  L.push(`| decodeStream + buildProfile | ${cell(g5.eventsPerS, mEv)} |`);
  L.push(`| decodeStream alone | ${cell(g5.decodeOnlyEventsPerS, mEv)} |`);
  L.push(`| buildProfile alone | ${cell(g5.buildOnlyEventsPerS, mEv)} |`);
  L.push(`| ratio to the 5M/s target | ${cell(g5.ratioToTarget, f2)} |`);
  L.push(`| op records (two per span) per second, decodeStream + buildProfile | ${cell(g5.opRecordsPerS, mEv)} |`);
  if (g5.coldEventsPerS !== undefined) L.push(`| the first build in the process (cold: JIT compilation, fresh memory), decodeStream + buildProfile | ${mEv(g5.coldEventsPerS)} | | |`);
  if (g5.afterOneWarmup) L.push(`| builds 2 to 8 (the seven after one warm-up build, as timed by bench runs before 0.1.0), decodeStream + buildProfile | ${cell(g5.afterOneWarmup, mEv)} |`);
  if (g5.opRecordShare !== undefined) {
    L.push("", `Op records are ${(100 * g5.opRecordShare).toFixed(0)}% of this recording's records and most of the work, so events/s depends ` +
      "on the mix (scheduler and sample records are cheap): compare runs by op records/s too.");
  }
  L.push("", `Target >= 5M events/s: ${verdict(g5.eventsPerS ? g5.eventsPerS.median >= g5.target : undefined)}.`, "");

  writeMoeAndFidelity(L, d, f);

  const disturbed = d.runs.filter((r) => r.ok && !usable(r));
  if (disturbed.length) {
    L.push("## Runs left out", "", `Other work on the machine used more than ${DISTURBED_CPU_S} CPU s while these generated; their rounds' ratios ` +
      "leave them out (the other variants of the round still count where their baseline is usable):", "");
    for (const r of disturbed) L.push(`- round ${r.round + 1} ${r.variant}: ${f2(r.foreignCpuS ?? 0)} CPU s of other work, decode ${r.decodeTokS ? f2(r.decodeTokS) : "?"} tok/s`);
    L.push("");
  }
  const failed = [...d.runs.map((r) => ({ r, what: "" })), ...(d.perHitRuns ?? []).map((r) => ({ r, what: "per-hit " }))].filter(({ r }) => !r.ok);
  if (failed.length) {
    L.push("## Failed runs", "");
    for (const { r, what } of failed) L.push(`- ${what}round ${r.round + 1} ${r.variant}: ${r.error ?? ""}`);
    L.push("");
  }
  fs.writeFileSync(file, L.join("\n"));

  const s = [
    `ggml-lens bench (${(d.durationS / 60).toFixed(1)} min, ${o.rounds} rounds, load ${d.load.start[0]} -> ${d.load.end[0]})`,
    `  1. op probes attach ${describe(f1x.opAttachMs, f2)} ms, detach ${describe(f1x.opDetachMs, f1)} ms`,
    `  2. per op hit: ggml-lens ${describe(g2.perHitSystemUs.lensOp, f2)} us, empty ${describe(g2.perHitSystemUs.perfEmpty, f2)} us; ratio ${describe(rSys, f2)}` +
      (g2.precise ? `; precise (tiny model, CPU time) ${describe(g2.precise.lensUs, f3)} us against ${describe(g2.precise.emptyUs, f3)} us, ratio ${describe(g2.precise.ratio, f2)}` : ""),
    `  3. decode ratio default ${describe(dr, f3)}; full ${describe(g3.decodeRatio["lens-full"], f3)}; control ${describe(ctl, f3)}; ` +
      `modelled default ${describe(md.defaultFromThread, f3)} %`,
    `  4. lost in full mode: ${g4.totalLost}`,
    `  5. decode ${describe(g5.eventsPerS, mEv)} events/s`,
  ];
  return s.join("\n");
}
