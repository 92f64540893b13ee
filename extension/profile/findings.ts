/**
 * Findings: what a profile says, ranked, each with the numbers behind it and links to the evidence.
 *
 *   findings(profile, ceilings, { offload }) -> Finding[]
 *
 * Each finding has a score, the share of the run's op thread time it is about (0..1; thread time:
 * the spans' durations plus the time threads waited at the barrier after each op), and findings
 * are ranked by it. Severity follows from the score (SEVERITY_FROM); a finding that only says what
 * is not there is "info". The kinds:
 * - phase: the op classes that dominate each phase (prefill, decode), with their roofline bound
 *   and distance to the roof (roofline.ts on the phase's spans);
 * - idle-threads: threads waiting inside op instances for the last thread (load imbalance);
 * - attention-growth: time of the attention ops per decode call against the context position
 *   (median pairwise slope: preempted calls do not move it), with the KV length they ran over;
 * - moe-skew and cold-weights: expert routing skew per layer, op runs slowed by major page faults
 *   (weights read from disk) and the experts first used in them;
 * - offload: ops whose offload to another backend did not pay off (OffloadData);
 * - scaling (scaling.ts): tokens/s and op classes against thread counts.
 */
import type { MachineCeilings } from "./machine";
import type { GraphNode, Profile } from "./model";
import { analyze, type OpClass } from "./roofline";
import { MAX_DIMS_CAP } from "./stream";
import { baseName, callAt, callsOf, layerOfName, opInstances, phaseProfile, type Instance, type Phase } from "./instances";
import { hasOffloadBackend, offloadAnalysis, offloadFindingParts } from "./offload";

/** Where to see a finding: a filtered timeline, a roofline point, a source symbol. */
export type Evidence =
  | { kind: "timeline"; op: string; range?: [number, number] }
  | { kind: "roofline"; class: string }
  | { kind: "source"; symbol: string; op: string }
  | { kind: "offload"; op: string };

export type Severity = "high" | "medium" | "low" | "info";

export type FindingKind = "phase" | "idle-threads" | "attention-growth" | "moe-skew" | "cold-weights" | "offload" | "scaling";

export interface Finding {
  /** Stable within a profile: kind and subject, e.g. "idle-threads:GET_ROWS f32[256,9] = ...". */
  id: string;
  kind: FindingKind;
  title: string;
  severity: Severity;
  /** The share of the run's op thread time the finding is about; findings are ranked by it. */
  score: number;
  numbers: Record<string, number | string | null>;
  /** Supporting lines, shown under the title. */
  details: string[];
  evidence: Evidence[];
}

/** Per op class, time on each backend: what the offload finding needs (the offload recording provides it). */
export interface OffloadData {
  classes: OffloadClass[];
}

export interface OffloadClass {
  /** The op class, as roofline.ts keys it. */
  class: string;
  op: string;
  /** Time of the class's runs on each backend, and how many runs. */
  backends: { name: string; ns: number; runs: number }[];
  /** Time spent copying the class's inputs to and results from the offload backend. */
  copyNs: number;
}

export interface FindingOptions {
  /** Offload data of the run; undefined: the profile has none. */
  offload?: OffloadData;
}

/** Score from which a finding is high, medium; below: low. */
export const SEVERITY_FROM = { high: 0.2, medium: 0.05 };
/** Op classes named per phase. */
const TOP_CLASSES = 3;
/** A class's waiting counts from this share of its thread time and of the run's. */
const IDLE_CLASS_SHARE = 0.1;
const IDLE_RUN_SHARE = 0.01;
/** Decode calls needed to fit attention time against position. */
const MIN_DECODE_CALLS = 6;
/** The busiest expert of a layer counts as skewed from this multiple of an even share. */
const SKEW_RATIO = 1.5;
/** Picks per expert needed on average before skew is judged. */
const MIN_PICKS_PER_EXPERT = 4;
/** An expert unused for this many routings of its layer is used "after a pause". */
const PAUSE_ROUTINGS = 8;

export function severityOf(score: number): Severity {
  if (score >= SEVERITY_FROM.high) return "high";
  return score >= SEVERITY_FROM.medium ? "medium" : "low";
}

/** The findings of `profile`, ranked; `ceilings` null: no bound verdicts. */
export function findings(profile: Profile, ceilings: MachineCeilings | null, options: FindingOptions = {}): Finding[] {
  const instances = opInstances(profile);
  const runNs = instances.reduce((sum, i) => sum + i.busyNs + i.waitNs, 0);
  const context: Context = { profile, instances, runNs, classes: new ClassNames(analyze(profile, ceilings).classes) };
  const list = [
    ...phaseFindings(context, ceilings),
    ...idleFindings(context),
    ...attentionFindings(context),
    ...moeSkewFindings(context),
    ...coldWeightFindings(context),
    options.offload ? offloadFinding(options.offload) : offloadFindingOf(profile),
  ];
  return rank(list);
}

export function rank(list: Finding[]): Finding[] {
  const order: Severity[] = ["high", "medium", "low", "info"];
  return list.sort((a, b) => b.score - a.score || order.indexOf(a.severity) - order.indexOf(b.severity) || a.id.localeCompare(b.id));
}

interface Context {
  profile: Profile;
  instances: Instance[];
  /** Thread time of all op instances: busy plus waiting. */
  runNs: number;
  classes: ClassNames;
}

function finding(kind: FindingKind, subject: string, score: number, rest: Omit<Finding, "id" | "kind" | "score" | "severity">): Finding {
  return { id: `${kind}:${subject}`, kind, score, severity: severityOf(score), ...rest };
}

// ---- op classes --------------------------------------------------------------------------

/**
 * The roofline class of an instance, matched by structure (op, result and source types and shapes,
 * as roofline.ts groups them), so that a finding can point at the class's roofline point.
 */
class ClassNames {
  private readonly bySignature = new Map<string, OpClass>();

  constructor(classes: OpClass[]) {
    for (const c of classes) this.bySignature.set(classSignature(c.op, c.fused, c.type, c.ne, c.sources), c);
  }

  of(profile: Profile, instance: Instance, nodes: Map<number, GraphNode> | undefined): OpClass | undefined {
    const { name, fused } = profile.labels[instance.label];
    const first = sourcesOf(instance.node, nodes);
    const dst = instance.second ?? instance.node;
    const sources = instance.second ? [...first, ...sourcesOf(instance.second, nodes)] : first;
    return this.bySignature.get(classSignature(name, fused, dst.type, dst.ne, sources));
  }
}

function classSignature(op: string, fused: boolean, type: string, ne: number[], sources: { type: string; ne: number[] }[]): string {
  return JSON.stringify([op, fused, type, ne, sources.map((s) => [s.type, s.ne])]);
}

function sourcesOf(node: GraphNode, nodes: Map<number, GraphNode> | undefined): { type: string; ne: number[] }[] {
  return node.src.map((address, i) => {
    const [type, ne] = [node.srcTypes?.[i], node.srcNe?.[i]];
    if (address !== 0 && type && ne && ne.length > 0) return { type, ne };
    const source = address === 0 ? undefined : nodes?.get(address);
    return source ? { type: source.type, ne: source.ne } : { type: "", ne: [] };
  });
}

/** Nodes of each graph structure by tensor address, per graph run. */
function nodesByGraph(profile: Profile): (Map<number, GraphNode> | undefined)[] {
  const bySignature = new Map<string, Map<number, GraphNode>>();
  for (const [signature, nodes] of profile.structures) bySignature.set(signature, new Map(nodes.map((n) => [n.tensor, n])));
  return profile.graphs.map((g) => bySignature.get(g.signature));
}

const className = (c: OpClass): string => `${c.op} ${c.shape}`;
const percent = (f: number): string => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;
const micros = (ns: number): string => `${(ns / 1e3).toFixed(1)} µs`;

function kernelSymbol(op: string): string {
  return `ggml_compute_forward_${op.split("+")[0].toLowerCase()}`;
}

// ---- 1. dominant op classes per phase -----------------------------------------------------

function phaseFindings(context: Context, ceilings: MachineCeilings | null): Finding[] {
  const { profile } = context;
  return (["prefill", "decode"] as Phase[]).flatMap((phase) => {
    const calls = callsOf(profile, phase);
    if (calls.length === 0) return [];
    const part = phaseProfile(profile, phase);
    if (part.spans.count === 0) return [];
    const classes = analyze(part, ceilings).classes.slice(0, TOP_CLASSES);
    let phaseNs = 0;
    for (let s = 0; s < part.spans.count; s++) phaseNs += part.spans.endNs[s] - part.spans.startNs[s];
    const range: [number, number] = [calls[0].startNs, calls[calls.length - 1].endNs];
    return [phaseFinding(phase, classes, range, phaseNs, context.runNs, calls.length)];
  });
}

function phaseFinding(phase: Phase, classes: OpClass[], range: [number, number], phaseNs: number, runNs: number, calls: number): Finding {
  const top = classes[0];
  const titleBound = top.bound.verdict === "unknown" ? "bound unknown (no machine ceilings)" : boundText(top);
  return finding("phase", phase, runNs > 0 ? top.total_ns / runNs : 0, {
    title: `${phase}: ${className(top)} takes ${percent(top.share)} of the phase's op time; ${titleBound}`,
    numbers: {
      phase,
      calls,
      phase_op_ms: phaseNs / 1e6,
      class: top.key,
      share: top.share,
      verdict: top.bound.verdict,
      roof: top.bound.roof,
      fraction_of_roof: top.bound.fraction,
      gflops: top.gflops,
      gbps: top.gbps,
    },
    details: classes.map((c) => `${percent(c.share)}  ${className(c)}: ${c.bound.verdict === "unknown" ? "bound unknown" : boundText(c)}`),
    evidence: [
      ...classes.map((c): Evidence => ({ kind: "roofline", class: c.key })),
      { kind: "timeline", op: top.op, range },
      { kind: "source", symbol: kernelSymbol(top.op), op: top.op },
    ],
  });
}

function boundText(c: OpClass): string {
  const b = c.bound;
  if (b.fraction === null) return b.verdict;
  const below = b.fraction > 0 ? `, ${(1 / b.fraction).toFixed(1)}x below it` : "";
  return `${b.verdict} at ${percent(b.fraction)} of the ${b.roof} roof${below}`;
}

// ---- 2. threads idle inside ops ----------------------------------------------------------

interface IdleClass {
  name: string;
  opClass: OpClass | undefined;
  op: string;
  instances: number;
  busyNs: number;
  waitNs: number;
  spreadNs: number;
  /** Instances whose last thread was each tid. */
  lastByTid: Map<number, number>;
  /** Instances where the scheduler took a thread off its CPU. */
  preempted: number;
  firstStart: number;
  lastEnd: number;
}

function idleFindings(context: Context): Finding[] {
  const { profile, runNs } = context;
  const classes = idleByClass(context);
  return [...classes.values()]
    .filter((c) => c.waitNs >= IDLE_CLASS_SHARE * (c.busyNs + c.waitNs) && c.waitNs >= IDLE_RUN_SHARE * runNs)
    .map((c) => idleFinding(c, runNs, profile.threads.length));
}

function idleByClass(context: Context): Map<string, IdleClass> {
  const { profile, instances } = context;
  const nodes = nodesByGraph(profile);
  const classes = new Map<string, IdleClass>();
  for (const i of instances) {
    if (i.threads < 2) continue;
    const opClass = context.classes.of(profile, i, nodes[i.graph]);
    const op = profile.labels[i.label].name;
    const name = opClass ? className(opClass) : `${op} ${baseName(i.node.name)}`;
    let c = classes.get(name);
    if (!c) classes.set(name, (c = { name, opClass, op, instances: 0, busyNs: 0, waitNs: 0, spreadNs: 0, lastByTid: new Map(), preempted: 0, firstStart: i.startNs, lastEnd: i.endNs }));
    c.instances++;
    c.busyNs += i.busyNs;
    c.waitNs += i.waitNs;
    c.spreadNs += i.endNs - i.firstEndNs;
    c.lastByTid.set(i.lastTid, (c.lastByTid.get(i.lastTid) ?? 0) + 1);
    c.lastEnd = Math.max(c.lastEnd, i.endNs);
    if (i.preemptions > 0) c.preempted++;
  }
  return classes;
}

function idleFinding(c: IdleClass, runNs: number, threads: number): Finding {
  const lost = c.waitNs / (c.busyNs + c.waitNs);
  const [lastTid, lastCount] = [...c.lastByTid].sort((a, b) => b[1] - a[1])[0];
  return finding("idle-threads", c.name, runNs > 0 ? c.waitNs / runNs : 0, {
    title: `threads idle in ${c.name}: ${percent(lost)} of its thread time is spent waiting for the last thread (mean spread ${micros(c.spreadNs / c.instances)})`,
    numbers: {
      class: c.opClass?.key ?? c.name,
      instances: c.instances,
      threads,
      busy_ms: c.busyNs / 1e6,
      wait_ms: c.waitNs / 1e6,
      lost_share: lost,
      mean_spread_us: c.spreadNs / c.instances / 1e3,
      last_tid: lastTid,
      last_tid_share: lastCount / c.instances,
      preempted_share: c.preempted / c.instances,
    },
    details: [
      `${c.instances} runs on ${threads} threads: ${(c.busyNs / 1e6).toFixed(3)} ms working, ${(c.waitNs / 1e6).toFixed(3)} ms waiting at the barrier after the op`,
      `thread ${lastTid} finished last in ${percent(lastCount / c.instances)} of the runs: the work is not split evenly (or one thread does extra work)`,
      ...(c.preempted > 0 ? [`in ${percent(c.preempted / c.instances)} of the runs the scheduler took a thread off its CPU (involuntary context switches): there, part of the wait is other load on the machine`] : []),
    ],
    evidence: [
      { kind: "timeline", op: c.op, range: [c.firstStart, c.lastEnd] },
      ...(c.opClass ? [{ kind: "roofline", class: c.opClass.key } as Evidence] : []),
      { kind: "source", symbol: kernelSymbol(c.op), op: c.op },
    ],
  });
}

// ---- 4. attention growth with context ----------------------------------------------------

/** Tensor names the attention ops get from llama.cpp's graph builder (without flash attention). */
const ATTENTION_NAME = /^(kq|kqv|kqv_mla|kq_soft_max(_ext)?|kq_scaled(_\d)?|kq_tanh|kq_plus_kq_b)-\d+$/;

export function isAttention(node: GraphNode): boolean {
  return node.op === "FLASH_ATTN_EXT" || ATTENTION_NAME.test(baseName(node.name));
}

/** Least-squares line y = a + b x, with r². */
export function fitLine(x: number[], y: number[]): { intercept: number; slope: number; r2: number } {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let k = 0; k < n; k++) {
    sxy += (x[k] - mx) * (y[k] - my);
    sxx += (x[k] - mx) ** 2;
    syy += (y[k] - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { intercept: my - slope * mx, slope, r2: sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0 };
}

/** The median of the slopes between every pair of points (Theil-Sen): one preempted call does not move it. */
export function medianSlope(x: number[], y: number[]): { intercept: number; slope: number } {
  const step = Math.max(1, Math.ceil(x.length / MAX_SLOPE_POINTS));
  const slopes: number[] = [];
  for (let i = 0; i < x.length; i += step) for (let j = i + step; j < x.length; j += step) if (x[j] !== x[i]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
  const slope = median(slopes);
  return { slope, intercept: median(x.map((xi, k) => y[k] - slope * xi)) };
}

/** Points the pairwise slopes are taken over, at most (evenly strided). */
const MAX_SLOPE_POINTS = 600;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Keys the KQ product and its softmax ran over: their result's ne[0] as the OP_BEGIN recorded it (a
 * reused graph's structure keeps the shapes it was first recorded with); 0 where not known.
 */
function kvLength(profile: Profile, instance: Instance): number {
  if (instance.node.op === "FLASH_ATTN_EXT" || /^kqv/.test(baseName(instance.node.name))) return 0;
  return profile.opRecords.begin.ne[instance.row * MAX_DIMS_CAP];
}

interface AttentionCalls {
  positions: number[];
  wallNs: number[];
  kv: number[];
  /** Thread time per op name. */
  ops: Map<string, number>;
  range: [number, number];
}

function attentionFindings(context: Context): Finding[] {
  const calls = attentionCalls(context);
  return calls ? [attentionFinding(calls, context.runNs)] : [];
}

function attentionCalls(context: Context): AttentionCalls | undefined {
  const { profile, instances } = context;
  const calls = callsOf(profile, "decode");
  if (calls.length < MIN_DECODE_CALLS) return undefined;
  const starts = Float64Array.from(calls, (c) => c.startNs);
  const wallNs = new Array<number>(calls.length).fill(0);
  const kv = new Array<number>(calls.length).fill(0);
  const ops = new Map<string, number>();
  for (const i of instances) {
    if (!isAttention(i.node)) continue;
    const call = callAt(calls, starts, i.startNs);
    if (call < 0) continue;
    wallNs[call] += i.endNs - i.startNs;
    kv[call] = Math.max(kv[call], kvLength(profile, i));
    const op = profile.labels[i.label].name;
    ops.set(op, (ops.get(op) ?? 0) + i.busyNs + i.waitNs);
  }
  if (ops.size === 0) return undefined;
  return { positions: contextPositions(profile, calls), wallNs, kv, ops, range: [calls[0].startNs, calls[calls.length - 1].endNs] };
}

/** Tokens in the context before each decode call: the batch sizes of every call started before it. */
function contextPositions(profile: Profile, decodeCalls: Profile["calls"]): number[] {
  const all = [...profile.calls].sort((a, b) => a.startNs - b.startNs);
  return decodeCalls.map((call) => all.filter((c) => c.startNs < call.startNs).reduce((n, c) => n + Math.max(c.nTokens, 0), 0));
}

/** Runs of decode calls with the same KV length: their positions and median attention time. */
function kvSegments(a: AttentionCalls): { kv: number; from: number; to: number; medianNs: number }[] {
  const segments: { kv: number; from: number; to: number; times: number[] }[] = [];
  a.kv.forEach((kv, k) => {
    const last = segments[segments.length - 1];
    if (last && last.kv === kv) {
      last.to = a.positions[k];
      last.times.push(a.wallNs[k]);
    } else segments.push({ kv, from: a.positions[k], to: a.positions[k], times: [a.wallNs[k]] });
  });
  return segments.map((s) => ({ kv: s.kv, from: s.from, to: s.to, medianNs: median(s.times) }));
}

function attentionFinding(a: AttentionCalls, runNs: number): Finding {
  const n = a.positions.length;
  const fit = medianSlope(a.positions, a.wallNs);
  const squares = fitLine(a.positions, a.wallNs);
  const [first, last] = [a.positions[0], a.positions[n - 1]];
  const [from, to] = [fit.intercept + fit.slope * first, fit.intercept + fit.slope * last];
  const growth = from > 0 ? to / from - 1 : 0;
  const added = (Math.max(0, to - from) * n) / 2;
  const opNames = [...a.ops.keys()].join(", ");
  const segments = kvSegments(a);
  return finding("attention-growth", opNames, runNs > 0 ? added / runNs : 0, {
    title: `attention (${opNames}) per decode call grows ${micros(fit.slope * 100)} per 100 tokens of context: ${micros(from)} at position ${first}, ${micros(to)} at ${last} (${growth >= 0 ? "+" : ""}${percent(growth)})`,
    numbers: {
      decode_calls: n,
      first_position: first,
      last_position: last,
      slope_ns_per_token: fit.slope,
      intercept_ns: fit.intercept,
      least_squares_slope_ns_per_token: squares.slope,
      r2: squares.r2,
      fitted_first_us: from / 1e3,
      fitted_last_us: to / 1e3,
      growth,
      kv_lengths: segments.map((s) => s.kv).join(","),
    },
    details: [
      `wall time of the attention ops in each of ${n} decode calls against the tokens already in the context: median pairwise slope (least squares: ${micros(squares.slope * 100)} per 100 tokens, r² ${squares.r2.toFixed(2)})`,
      ...(segments.length > 1 || segments[0]?.kv ? segments.map((s) => `KV length ${s.kv} at positions ${s.from}-${s.to}: median ${micros(s.medianNs)} per call`) : []),
      ...[...a.ops].map(([op, ns]) => `${op}: ${(ns / 1e6).toFixed(3)} ms of thread time in decode`),
    ],
    evidence: [...a.ops.keys()].map((op): Evidence => ({ kind: "timeline", op, range: a.range })),
  });
}

// ---- 5. MoE: expert skew, cold weights ---------------------------------------------------

interface LayerRouting {
  layer: number;
  name: string;
  tensor: number;
  counts: number[];
}

/** Per layer, how often each expert was picked; each layer counts its first MUL_MAT_ID tensor (by name) once. */
export function expertRouting(profile: Profile): LayerRouting[] {
  const names = new Map<number, string>();
  let nExperts = 0;
  for (const nodes of profile.structures.values()) {
    for (const n of nodes) {
      if (n.op !== "MUL_MAT_ID") continue;
      names.set(n.tensor, n.name);
      nExperts = Math.max(nExperts, n.srcNe?.[0]?.[2] ?? 0);
    }
  }
  for (const e of profile.experts) for (const id of e.ids) nExperts = Math.max(nExperts, id + 1);
  const nameOf = (tensor: number): string => names.get(tensor) ?? `tensor 0x${tensor.toString(16)}`;
  const chosen = new Map<string, number>();
  for (const e of profile.experts) {
    const name = nameOf(e.tensor);
    const key = layerOfName(name) >= 0 ? `layer ${layerOfName(name)}` : name;
    const known = chosen.get(key);
    if (known === undefined || name < nameOf(known)) chosen.set(key, e.tensor);
  }
  const byLayer = new Map<number, LayerRouting>();
  for (const tensor of chosen.values()) byLayer.set(tensor, { layer: layerOfName(nameOf(tensor)), name: nameOf(tensor), tensor, counts: new Array<number>(nExperts).fill(0) });
  for (const e of profile.experts) {
    const routing = byLayer.get(e.tensor);
    if (routing) for (const id of e.ids) if (id >= 0 && id < nExperts) routing.counts[id]++;
  }
  return [...byLayer.values()].sort((a, b) => a.layer - b.layer);
}

function moeSkewFindings(context: Context): Finding[] {
  const { profile, instances, runNs } = context;
  const routing = expertRouting(profile).filter((l) => l.counts.length > 0);
  const judged = routing.filter((l) => sum(l.counts) >= MIN_PICKS_PER_EXPERT * l.counts.length);
  const skewed = judged.map((l) => ({ ...l, ratio: busiest(l).ratio, busiest: busiest(l) })).filter((l) => l.ratio >= SKEW_RATIO);
  if (skewed.length === 0) return [];
  const moeNs = instances.filter((i) => i.node.op === "MUL_MAT_ID").reduce((n, i) => n + i.busyNs + i.waitNs, 0);
  const worst = skewed.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  const score = runNs > 0 ? (moeNs / runNs) * (1 - 1 / worst.ratio) : 0;
  return [
    finding("moe-skew", "experts", score, {
      title: `expert routing is skewed in ${skewed.length} of ${judged.length} layers: layer ${worst.layer}'s expert ${worst.busiest.expert} takes ${percent(worst.busiest.share)} of its picks (${worst.ratio.toFixed(1)}x an even share)`,
      numbers: { layers: judged.length, skewed_layers: skewed.length, experts: worst.counts.length, worst_layer: worst.layer, worst_expert: worst.busiest.expert, worst_ratio: worst.ratio, moe_share: runNs > 0 ? moeNs / runNs : 0 },
      details: skewed.map((l) => `layer ${l.layer} (${l.name}): picks per expert ${l.counts.join(" ")}; expert ${l.busiest.expert} ${l.ratio.toFixed(1)}x an even share`),
      evidence: [{ kind: "timeline", op: "MUL_MAT_ID" }, { kind: "source", symbol: kernelSymbol("MUL_MAT_ID"), op: "MUL_MAT_ID" }],
    }),
  ];
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function busiest(l: LayerRouting): { expert: number; share: number; ratio: number } {
  const total = sum(l.counts);
  const expert = l.counts.indexOf(Math.max(...l.counts));
  const share = total > 0 ? l.counts[expert] / total : 0;
  return { expert, share, ratio: share * l.counts.length };
}

/** Op runs that took major page faults (weights read from disk), against the same class's runs without. */
function coldWeightFindings(context: Context): Finding[] {
  const { profile, instances, runNs } = context;
  const nodes = nodesByGraph(profile);
  const groups = new Map<string, { cold: Instance[]; warm: Instance[]; opClass: OpClass | undefined; op: string }>();
  for (const i of instances) {
    const opClass = context.classes.of(profile, i, nodes[i.graph]);
    const op = profile.labels[i.label].name;
    const key = opClass?.key ?? `${op} ${baseName(i.node.name)}`;
    const group = groups.get(key) ?? { cold: [], warm: [], opClass, op };
    (i.majorFaults > 0 ? group.cold : group.warm).push(i);
    groups.set(key, group);
  }
  const cold = [...groups.entries()].filter(([, g]) => g.cold.length > 0);
  if (cold.length === 0) return [];
  const firstUses = expertFirstUses(profile);
  return cold.map(([key, g]) => coldFinding(key, g, runNs, firstUses));
}

function coldFinding(key: string, g: { cold: Instance[]; warm: Instance[]; opClass: OpClass | undefined; op: string }, runNs: number, firstUses: FirstUse[]): Finding {
  const wall = (list: Instance[]): number => list.reduce((n, i) => n + i.endNs - i.startNs, 0) / Math.max(list.length, 1);
  const [coldNs, warmNs] = [wall(g.cold), wall(g.warm)];
  const faults = g.cold.reduce((n, i) => n + i.majorFaults, 0);
  const extraNs = g.warm.length ? Math.max(0, coldNs - warmNs) * g.cold.length : 0;
  const firsts = firstUses.filter((u) => g.cold.some((i) => u.ts >= i.startNs && u.ts <= i.endNs));
  const experts = firsts.length ? `; experts first used (or after a pause of ${PAUSE_ROUTINGS} routings) in them: ${firsts.map((u) => `layer ${u.layer} #${u.expert}`).join(", ")}` : "";
  const name = g.opClass ? className(g.opClass) : key;
  const first = g.cold[0];
  return finding("cold-weights", key, runNs > 0 ? extraNs / runNs : 0, {
    title: `${g.cold.length} run(s) of ${name} took ${faults} major page faults: ${micros(coldNs)} each${g.warm.length ? ` against ${micros(warmNs)} without (${(coldNs / Math.max(warmNs, 1)).toFixed(1)}x)` : ""}`,
    numbers: { class: key, cold_runs: g.cold.length, warm_runs: g.warm.length, major_faults: faults, cold_mean_us: coldNs / 1e3, warm_mean_us: g.warm.length ? warmNs / 1e3 : null, extra_ms: extraNs / 1e6, first_used_experts: firsts.length },
    details: [`its weights were read from disk (memory-mapped and not in the page cache)${experts}`],
    evidence: [{ kind: "timeline", op: g.op, range: [first.startNs, first.endNs] }, ...(g.opClass ? [{ kind: "roofline", class: g.opClass.key } as Evidence] : [])],
  });
}

interface FirstUse {
  ts: number;
  layer: number;
  expert: number;
}

/** Routings that picked an expert its layer had not used before, or not in the last PAUSE_ROUTINGS routings. */
function expertFirstUses(profile: Profile): FirstUse[] {
  const routing = expertRouting(profile);
  const counted = new Map(routing.map((l) => [l.tensor, l.layer]));
  const lastSeen = new Map<string, number>();
  const seq = new Map<number, number>();
  const uses: FirstUse[] = [];
  for (const e of [...profile.experts].sort((a, b) => a.ts - b.ts)) {
    const layer = counted.get(e.tensor);
    if (layer === undefined) continue;
    const n = (seq.get(e.tensor) ?? 0) + 1;
    seq.set(e.tensor, n);
    for (const expert of new Set(e.ids)) {
      const key = `${layer}:${expert}`;
      const seen = lastSeen.get(key);
      if (seen === undefined || n - seen > PAUSE_ROUTINGS) uses.push({ ts: e.ts, layer, expert });
      lastSeen.set(key, n);
    }
  }
  return uses;
}

// ---- 6. offload --------------------------------------------------------------------------

/** Mean time per run on the CPU and on the best other backend, copies included, per op class. */
export function offloadFinding(data: OffloadData | undefined): Finding {
  const none: Finding = {
    ...finding("offload", "none", 0, { title: "no offload in this profile", numbers: {}, details: ["every op ran on the CPU backend (or the profile does not record backends)"], evidence: [] }),
    severity: "info",
  };
  if (!data) return none;
  const losing = data.classes.map(offloadLoss).filter((l): l is OffloadLoss => l !== null && l.lossNs > 0);
  if (losing.length === 0) return { ...none, title: "offload paid off for every op class that ran on more than one backend", details: [] };
  const total = data.classes.reduce((n, c) => n + c.backends.reduce((m, b) => m + b.ns, 0) + c.copyNs, 0);
  const lossNs = losing.reduce((n, l) => n + l.lossNs, 0);
  return finding("offload", "classes", total > 0 ? lossNs / total : 0, {
    title: `offload did not pay off for ${losing.length} op class(es): with the copies they ran slower than on the CPU`,
    numbers: { classes: losing.length, loss_ms: lossNs / 1e6 },
    details: losing.map((l) => `${l.c.class}: ${micros(l.offloadedNs)} per run on ${l.backend} with copies, ${micros(l.cpuNs)} on the CPU`),
    evidence: losing.map((l): Evidence => ({ kind: "timeline", op: l.c.op })),
  });
}

/** The offload finding from the profile's own backend records (offload.ts). */
function offloadFindingOf(profile: Profile): Finding {
  const backendNs = profile.backendSpans.reduce((n, s) => n + (s.endNs - s.startNs), 0);
  const parts = hasOffloadBackend(profile) ? offloadFindingParts(offloadAnalysis(profile), backendNs) : null;
  if (!parts) return offloadFinding(undefined);
  const { subject, score, ...rest } = parts;
  return finding("offload", subject, score, rest);
}

interface OffloadLoss {
  c: OffloadClass;
  backend: string;
  cpuNs: number;
  offloadedNs: number;
  lossNs: number;
}

function offloadLoss(c: OffloadClass): OffloadLoss | null {
  const cpu = c.backends.find((b) => b.name.toUpperCase().startsWith("CPU") && b.runs > 0);
  const others = c.backends.filter((b) => b !== cpu && b.runs > 0);
  if (!cpu || others.length === 0) return null;
  const offRuns = others.reduce((n, b) => n + b.runs, 0);
  const offloadedNs = (others.reduce((n, b) => n + b.ns, 0) + c.copyNs) / offRuns;
  const cpuNs = cpu.ns / cpu.runs;
  return { c, backend: others.map((b) => b.name).join("+"), cpuNs, offloadedNs, lossNs: (offloadedNs - cpuNs) * offRuns };
}

// ---- text --------------------------------------------------------------------------------

/** "findings (ranked):" and one block per finding, for the CLI report. */
export function findingsText(list: Finding[], originNs: number): string[] {
  if (list.length === 0) return ["findings: none"];
  const lines = ["findings (ranked by the share of op thread time they concern):"];
  list.forEach((f, k) => {
    lines.push(`  ${k + 1}. [${f.severity}] ${f.title}`);
    for (const d of f.details) lines.push(`       ${d}`);
    const evidence = f.evidence.map((e) => evidenceText(e, originNs));
    if (evidence.length) lines.push(`       evidence: ${evidence.join("; ")}`);
  });
  return lines;
}

export function evidenceText(e: Evidence, originNs: number): string {
  if (e.kind === "roofline") return `roofline ${e.class}`;
  if (e.kind === "source") return `source ${e.symbol}`;
  if (e.kind === "offload") return `offload panel ${e.op}`;
  const range = e.range ? ` ${((e.range[0] - originNs) / 1e6).toFixed(1)}-${((e.range[1] - originNs) / 1e6).toFixed(1)} ms` : "";
  return `timeline ${e.op}${range}`;
}
