/**
 * Thread scaling: the same workload recorded at several thread counts (`ggml-lens scale`), compared.
 *
 * - tokens/s per count from the profiles' decode calls: decode tokens over the calls' summed time
 *   (prefill tokens/s the same way from the prefill calls);
 * - speedup and parallel efficiency against the fewest threads: efficiency = speedup / (threads /
 *   fewest threads), 1 for perfect scaling;
 * - where tokens/s saturates: the first count after which more threads gain less than
 *   SATURATION_GAIN of what doubling would ideally give;
 * - per op class (roofline.ts, on the decode calls' spans): wall time per traced decode call at
 *   each count; a class "stops scaling" when its efficiency from the fewest to the most threads is
 *   below STOPS_SCALING.
 */
import { findingsText, rank, severityOf, type Finding } from "./findings";
import { callAt, callsOf, phaseProfile } from "./instances";
import type { Profile } from "./model";
import { analyze } from "./roofline";

/** A gain below this share of the ideal gain of a step counts as saturated. */
export const SATURATION_GAIN = 0.1;
/** A class whose efficiency at the most threads is below this stops scaling. */
export const STOPS_SCALING = 0.5;
/** Classes below this share of decode op time at the most threads are not judged. */
const MIN_CLASS_SHARE = 0.02;

export class ScaleArgsError extends Error {}

export interface ScaleRun {
  threads: number;
  file: string;
  profile: Profile;
}

export interface ScalePoint {
  threads: number;
  file: string;
  decode_calls: number;
  decode_tokens: number;
  decode_tokens_per_s: number | null;
  prefill_tokens_per_s: number | null;
  speedup: number | null;
  efficiency: number | null;
}

export interface ClassScaling {
  class: string;
  op: string;
  /** Wall time per traced decode call, per thread count (null where the class did not run). */
  ms_per_call: (number | null)[];
  share_at_most: number;
  speedup: number | null;
  efficiency: number | null;
  stops_scaling: boolean;
}

export interface Scaling {
  threads: number[];
  points: ScalePoint[];
  /** The thread count where tokens/s stops gaining; null when it still gains at the most threads. */
  saturates_at: number | null;
  classes: ClassScaling[];
  findings: Finding[];
}

// ---- the command line --------------------------------------------------------------------

/** "1,2,4" -> [1, 2, 4], ascending, each a positive integer. */
export function parseThreadList(text: string): number[] {
  const counts = text.split(",").map((part) => part.trim());
  if (counts.some((c) => !/^[1-9]\d*$/.test(c))) throw new ScaleArgsError(`--threads takes thread counts separated by commas, such as 1,2,4, not '${text}'`);
  const sorted = [...new Set(counts.map(Number))].sort((a, b) => a - b);
  if (sorted.length < 2) throw new ScaleArgsError(`--threads needs at least two thread counts to compare, not '${text}'`);
  return sorted;
}

/** 1, 2, 4, ... up to the CPUs, and the CPU count itself. */
export function defaultThreadCounts(cpus: number): number[] {
  const counts: number[] = [];
  for (let n = 1; n < cpus; n *= 2) counts.push(n);
  counts.push(Math.max(cpus, 2));
  return [...new Set(counts)];
}

export interface ScalePlan {
  threads: number[];
  json: boolean;
  /** Profiles are written to PREFIX-tN.ggmlprof. */
  prefix: string;
  /** Options handed to each record (--mode included). */
  recordOptions: string[];
  command: string[];
}

/**
 * `scale [--threads 1,2,...] [--out-prefix P] [--json] [record options] -- CMD`; record options
 * other than --out and --pid pass through to each record, --mode full unless given.
 */
export function parseScaleArgs(args: string[], cpus: number, defaultPrefix: string): ScalePlan {
  const plan: ScalePlan = { threads: defaultThreadCounts(cpus), json: false, prefix: defaultPrefix, recordOptions: [], command: [] };
  let mode = "full";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      plan.command = args.slice(i + 1);
      break;
    }
    if (arg === "--json") {
      plan.json = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new ScaleArgsError(`unexpected '${arg}': put the command to run after --`);
    const [name, value, used] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1), 0] : [arg, args[i + 1], 1];
    if (value === undefined) throw new ScaleArgsError(`${name} needs a value`);
    if (name === "--out" || name === "--pid" || name === "--duration") throw new ScaleArgsError(`scale runs CMD itself and names each profile: ${name} does not apply (use --out-prefix)`);
    if (name === "--threads") plan.threads = parseThreadList(value);
    else if (name === "--out-prefix") plan.prefix = value;
    else if (name === "--mode") mode = value;
    else plan.recordOptions.push(name, value);
    i += used;
  }
  if (plan.command.length === 0) throw new ScaleArgsError("scale needs a command after --, such as: ggml-lens scale -- llama-completion -m model.gguf -p Hello -n 32 -no-cnv");
  plan.recordOptions.unshift("--mode", mode);
  return plan;
}

const THREAD_FLAGS = ["-t", "--threads", "-tb", "--threads-batch"];

/**
 * The command with llama.cpp's thread arguments (-t/--threads, and -tb/--threads-batch where
 * given) set to `n`; -t n is added when the command has none.
 */
export function withThreads(command: string[], n: number): string[] {
  const out: string[] = [];
  let found = false;
  for (let i = 0; i < command.length; i++) {
    const arg = command[i];
    const eq = arg.indexOf("=");
    if (eq > 0 && THREAD_FLAGS.includes(arg.slice(0, eq))) {
      out.push(`${arg.slice(0, eq)}=${n}`);
      found = true;
    } else if (THREAD_FLAGS.includes(arg) && i > 0) {
      if (i + 1 >= command.length) throw new ScaleArgsError(`${arg} in the command has no value`);
      out.push(arg, String(n));
      i++;
      found = true;
    } else out.push(arg);
  }
  return found ? out : [...out, "-t", String(n)];
}

// ---- the comparison ----------------------------------------------------------------------

export function scaling(runs: ScaleRun[]): Scaling {
  const sorted = [...runs].sort((a, b) => a.threads - b.threads);
  const points = pointsOf(sorted);
  const saturates_at = saturation(points);
  const classes = classScaling(sorted);
  return { threads: sorted.map((r) => r.threads), points, saturates_at, classes, findings: scalingFindings(points, saturates_at, classes) };
}

function tokensPerSecond(profile: Profile, kind: "prefill" | "decode"): { calls: number; tokens: number; perS: number | null } {
  const calls = callsOf(profile, kind);
  const tokens = calls.reduce((n, c) => n + Math.max(c.nTokens, 0), 0);
  const ns = calls.reduce((n, c) => n + c.endNs - c.startNs, 0);
  return { calls: calls.length, tokens, perS: ns > 0 && tokens > 0 ? tokens / (ns / 1e9) : null };
}

function pointsOf(runs: ScaleRun[]): ScalePoint[] {
  const base = runs[0];
  const baseRate = base ? tokensPerSecond(base.profile, "decode").perS : null;
  return runs.map((r) => {
    const decode = tokensPerSecond(r.profile, "decode");
    const speedup = decode.perS !== null && baseRate ? decode.perS / baseRate : null;
    return {
      threads: r.threads,
      file: r.file,
      decode_calls: decode.calls,
      decode_tokens: decode.tokens,
      decode_tokens_per_s: decode.perS,
      prefill_tokens_per_s: tokensPerSecond(r.profile, "prefill").perS,
      speedup,
      efficiency: speedup === null ? null : speedup / (r.threads / base.threads),
    };
  });
}

function saturation(points: ScalePoint[]): number | null {
  for (let k = 0; k + 1 < points.length; k++) {
    const [a, b] = [points[k], points[k + 1]];
    if (a.decode_tokens_per_s === null || b.decode_tokens_per_s === null) continue;
    const ideal = b.threads / a.threads - 1;
    const gain = b.decode_tokens_per_s / a.decode_tokens_per_s - 1;
    if (gain < SATURATION_GAIN * ideal) return a.threads;
  }
  return null;
}

/** Per op class, wall time per traced decode call at each count; the classes of the most threads' run first by time. */
function classScaling(runs: ScaleRun[]): ClassScaling[] {
  const perRun = runs.map((r) => classTimes(r.profile));
  const last = perRun[perRun.length - 1];
  const first = perRun[0];
  const lastTotal = [...last.values()].reduce((a, b) => a + b.ms, 0);
  const ratio = runs.length ? runs[runs.length - 1].threads / runs[0].threads : 1;
  return [...last.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([key, { op, ms }]) => {
      const from = first.get(key)?.ms;
      const speedup = from !== undefined && ms > 0 ? from / ms : null;
      const efficiency = speedup === null ? null : speedup / ratio;
      const share = lastTotal > 0 ? ms / lastTotal : 0;
      return {
        class: key,
        op,
        ms_per_call: perRun.map((m) => m.get(key)?.ms ?? null),
        share_at_most: share,
        speedup,
        efficiency,
        stops_scaling: efficiency !== null && efficiency < STOPS_SCALING && share >= MIN_CLASS_SHARE,
      };
    });
}

function classTimes(profile: Profile): Map<string, { op: string; ms: number }> {
  const decode = phaseProfile(profile, "decode");
  const calls = callsOf(profile, "decode");
  const starts = Float64Array.from(calls, (c) => c.startNs);
  const traced = new Set<number>();
  for (let s = 0; s < decode.spans.count; s++) traced.add(callAt(calls, starts, decode.spans.startNs[s]));
  const n = Math.max(traced.size, 1);
  return new Map(analyze(decode, null).classes.map((c) => [c.key, { op: c.op, ms: c.wall_ns / 1e6 / n }]));
}

function scalingFindings(points: ScalePoint[], saturatesAt: number | null, classes: ClassScaling[]): Finding[] {
  const last = points[points.length - 1];
  if (!last || last.decode_tokens_per_s === null) return [];
  const rates = points.map((p) => `${p.threads}: ${p.decode_tokens_per_s === null ? "-" : p.decode_tokens_per_s.toFixed(1)}`).join(", ");
  const loss = last.efficiency === null ? 0 : Math.max(0, Math.min(1, 1 - last.efficiency));
  const overall: Finding = {
    id: "scaling:tokens",
    kind: "scaling",
    title:
      saturatesAt === null
        ? `decode still scales at ${last.threads} threads: ${last.speedup?.toFixed(2)}x the tokens/s of ${points[0].threads} (efficiency ${percentOf(last.efficiency)})`
        : `decode tokens/s saturates at ${threadsText(saturatesAt)}: ${threadsText(last.threads)} give ${last.speedup?.toFixed(2)}x the tokens/s of ${points[0].threads} (efficiency ${percentOf(last.efficiency)})`,
    severity: severityOf(loss),
    score: loss,
    numbers: { saturates_at: saturatesAt, most_threads: last.threads, speedup: last.speedup, efficiency: last.efficiency },
    details: [`decode tokens/s by threads: ${rates}`],
    evidence: [],
  };
  const stopped = classes.filter((c) => c.stops_scaling).map((c): Finding => {
    const score = c.share_at_most * (1 - (c.efficiency ?? 0));
    return {
      id: `scaling:${c.class}`,
      kind: "scaling",
      title: `${c.class} stops scaling: ${c.speedup?.toFixed(2)}x faster from ${points[0].threads} to ${last.threads} threads (efficiency ${percentOf(c.efficiency)}), ${percentOf(c.share_at_most)} of decode op time at ${last.threads}`,
      severity: severityOf(score),
      score,
      numbers: { class: c.class, speedup: c.speedup, efficiency: c.efficiency, share_at_most: c.share_at_most },
      details: [`wall time per decode call: ${c.ms_per_call.map((ms, k) => `${threadsText(points[k].threads)} ${ms === null ? "-" : `${(ms * 1e3).toFixed(1)} µs`}`).join(", ")}`],
      evidence: [{ kind: "roofline", class: c.class }, { kind: "timeline", op: c.op }],
    };
  });
  return rank([overall, ...stopped]);
}

const threadsText = (n: number): string => `${n} thread${n === 1 ? "" : "s"}`;
const percentOf = (f: number | null): string => (f === null ? "-" : `${Math.round(f * 100)}%`);

// ---- text --------------------------------------------------------------------------------

/** Op classes shown in the text; --json has all. */
const CLASS_ROWS = 12;

export function scalingText(command: string[], s: Scaling): string[] {
  const rate = (v: number | null): string => (v === null ? "-" : v.toFixed(1));
  const ratio = (v: number | null): string => (v === null ? "-" : v.toFixed(2));
  const points = s.points.map((p) => [String(p.threads), rate(p.decode_tokens_per_s), ratio(p.speedup), percentOf(p.efficiency), rate(p.prefill_tokens_per_s), p.file]);
  const classes = s.classes.slice(0, CLASS_ROWS).map((c) => [
    c.class,
    ...c.ms_per_call.map((ms) => (ms === null ? "-" : (ms * 1e3).toFixed(1))),
    ratio(c.speedup),
    percentOf(c.efficiency),
    c.stops_scaling ? "stops scaling" : "",
  ]);
  return [
    `thread scaling of: ${command.join(" ")}`,
    "",
    ...columns(["threads", "decode tok/s", "speedup", "efficiency", "prefill tok/s", "profile"], points),
    "",
    s.saturates_at === null ? `tokens/s still gains at ${s.threads[s.threads.length - 1]} threads` : `tokens/s saturates at ${threadsText(s.saturates_at)}`,
    "",
    "decode op classes, wall µs per decode call:",
    ...columns(["op class", ...s.threads.map((n) => `${n} thr`), "speedup", "efficiency", ""], classes),
    ...(s.classes.length > CLASS_ROWS ? [`... and ${s.classes.length - CLASS_ROWS} more classes (see --json)`] : []),
    "",
    ...findingsText(s.findings, 0),
  ];
}

function columns(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === 0 || c === header.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}
