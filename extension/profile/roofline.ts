/**
 * Roofline analysis of a profile: op instance classes, achieved rates, and what bounds them.
 *
 *   analyze(profile, ceilings) -> { classes, ops, ceilings, assumptions }
 *
 * - An op *instance* is one node of one graph run: the spans of all threads that ran it. Its wall
 *   time runs from the first thread's start to the last thread's end. Achieved GFLOP/s and GB/s are
 *   FLOPs and bytes (cost.ts, by the op's definition) over instance wall time.
 * - A *class* groups instances of the same op (or fused group), result type and shape, and source
 *   types and shapes: e.g. the prefill and the decode runs of one weight matrix are two classes.
 *   `calls`, `total_ns`, `share`, `mean_ns`, `p50_ns`, `p99_ns` count thread spans exactly as
 *   Profile.ops does (one call = one thread running the op once); `instances`, `wall_ns` count runs.
 * - `ops` rolls the classes up per op name, in the shape of Profile.ops plus the rates: what the
 *   editor shows above an op's code (formatOpRates).
 * - The verdict compares the achieved rates with the machine's ceilings (machine.ts) for the number
 *   of threads that ran the op: the compute roof, and the memory roof of the level the data is
 *   expected in (see memoryRoof). An op reaching at least NEAR_ROOF of a roof is bound by the one it
 *   is nearer to; below both it is "neither": latency, synchronization or idle time dominate.
 *
 * Every span lands in a class: spans whose node the profile does not describe (no graph structure
 * recorded) form classes from their OP_BEGIN's type and shape, with unknown costs.
 */
import { CostModel, fusedCost, type Conversion, type CostInput, type OpCost, type Tensor } from "./cost";
import { cacheSize, scaled, type MachineCeilings } from "./machine";
import { percentile, type GraphNode, type OpStat, type Profile } from "./model";
import { lastAtOrBefore } from "./sorted";
import { MAX_DIMS_CAP } from "./stream";

/** Fraction of a roof from which an op counts as bound by it. */
export const NEAR_ROOF = 0.3;

export type Verdict = "memory-bound" | "compute-bound" | "neither" | "unknown";

export interface Bound {
  verdict: Verdict;
  /** The roof the verdict is measured against: "compute", a memory level ("L2", "DRAM"), or null. */
  roof: string | null;
  /** Achieved rate over that roof (1 = on the roof); null without ceilings or rates. */
  fraction: number | null;
  /** Achieved over the compute roof and over the memory roof, where known. */
  compute_fraction: number | null;
  memory_fraction: number | null;
  /** The memory level whose bandwidth is the memory roof. */
  memory_level: string | null;
  /** The roofline's attainable GFLOP/s at this intensity: min(compute roof, intensity x memory roof). */
  attainable_gflops: number | null;
  /** One line: why. */
  reason: string;
}

/** Rates of a set of instances. */
export interface Rates {
  instances: number;
  /** Sum of the instances' wall times. */
  wall_ns: number;
  /** FLOPs and bytes of all instances; null where not known for any. */
  total_flops: number | null;
  total_bytes: number | null;
  /** Achieved: over the wall time of the instances whose figure is known. */
  gflops: number | null;
  gbps: number | null;
  /** FLOPs per byte. */
  intensity: number | null;
  bound: Bound;
}

/** One op, type and shape: the op's figures (OpStat, counters aside) over the spans of this class. */
export interface OpClass extends Rates, Omit<OpStat, "counters"> {
  key: string;
  /** Readable types and shapes: "f32[256,9] = q4_0[256,256] · f32[256,9]". */
  shape: string;
  /** The result (of the last node, for a fused group) and the sources of each node. */
  type: string;
  ne: number[];
  sources: Tensor[];
  /** Mean, median and 99th percentile of the instances' wall times. */
  wall_mean_ns: number;
  wall_p50_ns: number;
  wall_p99_ns: number;
  /** Per instance (the mean where instances differ, as MUL_MAT_ID's experts do). */
  flops: number | null;
  bytes: number | null;
  conversion?: Conversion;
  /** Bytes one graph run moves where this class runs (what decides the memory level). */
  graph_bytes: number | null;
  notes: string[];
}

export type OpRates = OpStat & Rates;

export interface Analysis {
  /** Sorted by total time, largest first. */
  classes: OpClass[];
  /** Profile.ops with rates, in the same order. */
  ops: OpRates[];
  ceilings: MachineCeilings | null;
  /** What the figures rest on, one sentence each. */
  assumptions: string[];
}

// ---- instances ---------------------------------------------------------------------------

/** Op instances, struct of arrays: instance i is row i. */
interface Instances {
  count: number;
  /** Index in Profile.graphs; -1 when the span is outside any recorded graph structure. */
  graph: Int32Array;
  classIndex: Int32Array;
  startNs: Float64Array;
  endNs: Float64Array;
  tensor: Float64Array;
}

function newInstances(capacity: number): Instances {
  return {
    count: 0,
    graph: new Int32Array(capacity),
    classIndex: new Int32Array(capacity),
    startNs: new Float64Array(capacity),
    endNs: new Float64Array(capacity),
    tensor: new Float64Array(capacity),
  };
}

/** The graph run each span ran in and the node it ran, by tensor address in that run's structure. */
class NodeLocator {
  private readonly starts: Float64Array;
  /** Per graph run: its structure's nodes by tensor address. */
  private readonly byRun: (Map<number, GraphNode> | undefined)[];
  /** Per graph run: where its nodes' instance slots begin (graph runs x node indexes, flattened). */
  readonly slotBase: Float64Array;

  constructor(profile: Profile) {
    this.starts = Float64Array.from(profile.graphs, (g) => g.startNs);
    const bySignature = new Map<string, Map<number, GraphNode>>();
    const width = new Map<string, number>();
    for (const [signature, nodes] of profile.structures) {
      bySignature.set(signature, new Map(nodes.map((n) => [n.tensor, n])));
      width.set(signature, nodes.reduce((w, n) => Math.max(w, n.index + 1), 0));
    }
    this.byRun = profile.graphs.map((g) => bySignature.get(g.signature));
    this.slotBase = new Float64Array(profile.graphs.length + 1);
    profile.graphs.forEach((g, i) => (this.slotBase[i + 1] = this.slotBase[i] + (width.get(g.signature) ?? 0)));
  }

  /** Index of the last graph run started at or before `ts`, -1 when none. */
  graphAt(ts: number): number {
    return lastAtOrBefore(this.starts, ts);
  }

  node(graph: number, tensor: number): GraphNode | undefined {
    return graph < 0 || tensor === 0 ? undefined : this.byRun[graph]?.get(tensor);
  }

  /** Nodes of the structure, by address (sources that are nodes). */
  nodes(graph: number): Map<number, GraphNode> | undefined {
    return graph < 0 ? undefined : this.byRun[graph];
  }
}

/** The sources of a node as the cost model needs them; undefined where not described. */
function sourcesOf(node: GraphNode, nodes: Map<number, GraphNode> | undefined): (Tensor | undefined)[] {
  return node.src.map((address, i) => {
    if (address === 0) return undefined;
    const type = node.srcTypes?.[i];
    const ne = node.srcNe?.[i];
    if (type && ne && ne.length > 0) return { type, ne };
    const source = nodes?.get(address);
    return source ? { type: source.type, ne: source.ne } : undefined;
  });
}

function dims(ne: number[]): string {
  const shown = [...ne];
  while (shown.length > 1 && shown[shown.length - 1] === 1) shown.pop();
  return `[${shown.join(",")}]`;
}

function tensorText(t: Tensor | undefined): string {
  return t ? `${t.type}${dims(t.ne)}` : "?";
}

/** "f32[256,9] = q4_0[256,256] · f32[256,9]" (trailing empty sources left out). */
function nodeShape(dst: Tensor, sources: (Tensor | undefined)[]): string {
  return `${tensorText(dst)} = ${sources.map(tensorText).join(" · ")}`;
}

// ---- the analysis ------------------------------------------------------------------------

interface ClassBuild {
  key: string;
  op: string;
  fused: boolean;
  shape: string;
  dst: Tensor;
  sources: Tensor[];
  input: CostInput | undefined;
  second: { input: CostInput; readsFirst: boolean } | undefined;
  /** Rows in Instances. */
  instances: number[];
  /** Cost per instance for classes whose instances differ (MUL_MAT_ID), else one shared. */
  costs: OpCost[];
  fallback: boolean;
}

/**
 * The roofline analysis of `profile` against `ceilings` (null: no verdicts, rates only). See the
 * file comment for what each figure means.
 */
export function analyze(profile: Profile, ceilings: MachineCeilings | null): Analysis {
  const model = new CostModel(profile.header.types, vecDotTypes(profile));
  const { classes, instances, spanClass } = collectInstances(profile);
  const experts = new ExpertIndex(profile);
  for (const c of classes) c.costs = costsOf(c, instances, model, experts);
  const graphBytes = bytesPerGraphRun(classes, instances, profile.graphs.length);
  const spanStats = spanStatsByClass(profile, spanClass, classes.length);
  const allSpanNs = spanStats.reduce((n, st) => n + st.total, 0);
  const built = classes.map((c, i) => finishClass(c, instances, spanStats[i], allSpanNs, graphBytes, ceilings));
  built.sort((a, b) => b.total_ns - a.total_ns || a.key.localeCompare(b.key));
  const outside = instances.graph.subarray(0, instances.count).filter((g) => g < 0).length;
  return {
    classes: built,
    ops: rollUp(profile.ops, built, ceilings),
    ceilings,
    assumptions: assumptions(built, outside, ceilings),
  };
}

/** src0 type name -> vec_dot_type, where the profile header records the CPU backend's (a ggml_type value). */
function vecDotTypes(profile: Profile): Map<string, string> {
  const raw = profile.header.raw.types;
  const map = new Map<string, string>();
  if (!Array.isArray(raw)) return map;
  for (const t of raw as { name?: unknown; vec_dot_type?: unknown }[]) {
    const target = typeof t?.vec_dot_type === "number" ? profile.header.types[t.vec_dot_type]?.name : undefined;
    if (typeof t?.name === "string" && target) map.set(t.name, target);
  }
  return map;
}

/** Every span's instance and class (spanClass[s]); instances are a node of a graph run. */
function collectInstances(profile: Profile): { classes: ClassBuild[]; instances: Instances; spanClass: Int32Array } {
  const locate = new NodeLocator(profile);
  const begin = profile.opRecords.begin;
  const byKey = new Map<string, number>();
  // The same node of the same structure with the same label is always the same class.
  const classOfNode = new Map<string, Map<number, number>>();
  const classes: ClassBuild[] = [];
  const slots = new Int32Array(locate.slotBase[profile.graphs.length]).fill(-1);
  const { spans } = profile;
  const inst = newInstances(spans.count);
  const spanClass = new Int32Array(spans.count);
  for (let s = 0; s < spans.count; s++) {
    const row = spans.row[s];
    const tensor = begin.tensor[row];
    const graph = locate.graphAt(spans.startNs[s]);
    const node = locate.node(graph, tensor);
    const slot = node ? locate.slotBase[graph] + node.index : -1;
    let i = slot >= 0 ? slots[slot] : -1;
    if (i < 0) {
      const label = spans.label[s];
      const second = profile.labels[label].fused ? locate.node(graph, begin.tensor2[row]) : undefined;
      const perStructure = node ? (classOfNode.get(profile.graphs[graph].signature) ?? new Map<number, number>()) : undefined;
      const nodeKey = node ? (node.index * 2 ** 20 + (second ? second.index + 1 : 0)) * 2 ** 12 + label : 0;
      let classIndex = perStructure?.get(nodeKey);
      if (classIndex === undefined) {
        classIndex = classFor(profile, row, label, graph, node, second, locate, byKey, classes);
        if (node && perStructure) classOfNode.set(profile.graphs[graph].signature, perStructure.set(nodeKey, classIndex));
      }
      i = inst.count++;
      inst.graph[i] = node ? graph : -1;
      inst.classIndex[i] = classIndex;
      inst.startNs[i] = spans.startNs[s];
      inst.endNs[i] = spans.endNs[s];
      inst.tensor[i] = tensor;
      if (slot >= 0) slots[slot] = i;
      classes[classIndex].instances.push(i);
    }
    if (spans.startNs[s] < inst.startNs[i]) inst.startNs[i] = spans.startNs[s];
    if (spans.endNs[s] > inst.endNs[i]) inst.endNs[i] = spans.endNs[s];
    spanClass[s] = inst.classIndex[i];
  }
  return { classes, instances: inst, spanClass };
}

interface SpanStats {
  /** Span durations, ascending. */
  durations: Float64Array;
  total: number;
  threads: number;
}

/** Thread span durations and thread counts per class (as Profile.ops counts them per op). */
function spanStatsByClass(profile: Profile, spanClass: Int32Array, nClasses: number): SpanStats[] {
  const { spans } = profile;
  const counts = new Uint32Array(nClasses);
  for (let s = 0; s < spans.count; s++) counts[spanClass[s]]++;
  const durations = Array.from(counts, (n) => new Float64Array(n));
  const filled = new Uint32Array(nClasses);
  for (let s = 0; s < spans.count; s++) durations[spanClass[s]][filled[spanClass[s]]++] = spans.endNs[s] - spans.startNs[s];
  const threads = new Uint32Array(nClasses);
  for (const lane of profile.threads) {
    const seen = new Uint8Array(nClasses);
    for (let s = lane.first; s < lane.first + lane.count; s++) seen[spanClass[s]] = 1;
    seen.forEach((v, c) => (threads[c] += v));
  }
  return durations.map((d, c) => {
    d.sort();
    let total = 0;
    for (let k = 0; k < d.length; k++) total += d[k];
    return { durations: d, total, threads: threads[c] };
  });
}

/** The class of a new instance, made when its key is new. */
function classFor(
  profile: Profile,
  row: number,
  label: number,
  graph: number,
  node: GraphNode | undefined,
  second: GraphNode | undefined,
  locate: NodeLocator,
  byKey: Map<string, number>,
  classes: ClassBuild[],
): number {
  const { name, fused } = profile.labels[label];
  const build = node ? classOfNodes(name, fused, node, second, locate.nodes(graph)) : classOfSpan(name, fused, spanResult(profile, row));
  let classIndex = byKey.get(build.key);
  if (classIndex === undefined) {
    classIndex = classes.push(build) - 1;
    byKey.set(build.key, classIndex);
  }
  return classIndex;
}

/** The result of a span's op as its OP_BEGIN describes it. */
function spanResult(profile: Profile, row: number): Tensor {
  const begin = profile.opRecords.begin;
  const type = begin.type[row];
  return { type: profile.header.types[type]?.name ?? `type#${type}`, ne: Array.from(begin.ne.subarray(row * MAX_DIMS_CAP, (row + 1) * MAX_DIMS_CAP)) };
}

function emptyClass(key: string, op: string, fused: boolean, shape: string, dst: Tensor, sources: Tensor[]): ClassBuild {
  return { key, op, fused, shape, dst, sources, input: undefined, second: undefined, instances: [], costs: [], fallback: false };
}

function classOfNodes(
  op: string,
  fused: boolean,
  node: GraphNode,
  second: GraphNode | undefined,
  nodes: Map<number, GraphNode> | undefined,
): ClassBuild {
  const sources = sourcesOf(node, nodes);
  const dst = { type: node.type, ne: node.ne };
  let shape = nodeShape(dst, sources);
  const described = sources.map((s) => s ?? { type: "", ne: [] });
  const c = emptyClass("", op, fused, shape, dst, described);
  c.input = { op: node.op, dst, src: sources };
  if (second) {
    const secondSources = sourcesOf(second, nodes);
    const secondDst = { type: second.type, ne: second.ne };
    shape = `${shape} → ${nodeShape(secondDst, secondSources)}`;
    c.shape = shape;
    c.dst = secondDst;
    c.sources = [...described, ...secondSources.map((s) => s ?? { type: "", ne: [] })];
    c.second = { input: { op: second.op, dst: secondDst, src: secondSources }, readsFirst: second.src.includes(node.tensor) };
  }
  c.key = `${op}${fused ? " (fused)" : ""} ${shape}`;
  return c;
}

function classOfSpan(op: string, fused: boolean, dst: Tensor): ClassBuild {
  const shape = `${tensorText(dst)} (no graph structure recorded)`;
  const c = emptyClass(`${op}${fused ? " (fused)" : ""} ${shape}`, op, fused, shape, dst, []);
  c.fallback = true;
  return c;
}

/** MUL_MAT_ID runs: the distinct experts each used, from the expert selections recorded during it. */
class ExpertIndex {
  private readonly byTensor = new Map<number, { ts: number; ids: number[]; truncated: boolean }[]>();

  constructor(profile: Profile) {
    for (const e of profile.experts) {
      const list = this.byTensor.get(e.tensor) ?? [];
      list.push({ ts: e.ts, ids: e.ids, truncated: e.ids.length < e.nUsed * e.nTokens });
      this.byTensor.set(e.tensor, list);
    }
    for (const list of this.byTensor.values()) list.sort((a, b) => a.ts - b.ts);
  }

  /** Distinct experts of the run of `tensor` in [startNs, endNs], or undefined when none was recorded. */
  used(tensor: number, startNs: number, endNs: number): { count: number; truncated: boolean } | undefined {
    const list = this.byTensor.get(tensor) ?? [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].ts < startNs) lo = mid + 1;
      else hi = mid;
    }
    const ids = new Set<number>();
    let truncated = false;
    for (let i = lo; i < list.length && list[i].ts <= endNs; i++) {
      for (const id of list[i].ids) ids.add(id);
      truncated ||= list[i].truncated;
    }
    return ids.size ? { count: ids.size, truncated } : undefined;
  }
}

function costsOf(c: ClassBuild, instances: Instances, model: CostModel, experts: ExpertIndex): OpCost[] {
  if (!c.input) return [{ flops: null, bytes: null, notes: ["no graph structure recorded for these spans: their sources are unknown"] }];
  const input = c.input;
  const one = (extra: Partial<CostInput>): OpCost => {
    const first = model.cost({ ...input, ...extra });
    if (!c.second) return first;
    const intermediate = c.second.readsFirst ? model.bytesOf(input.dst) : 0;
    return fusedCost(first, model.cost(c.second.input), intermediate);
  };
  if (input.op !== "MUL_MAT_ID") return [one({})];
  return c.instances.map((i) => {
    const used = experts.used(instances.tensor[i], instances.startNs[i], instances.endNs[i]);
    return one(used ? { expertsUsed: used.count, expertsTruncated: used.truncated } : {});
  });
}

/** The cost of the k-th instance of a class: its own (MUL_MAT_ID), else the class's one. */
function costAt(c: ClassBuild, k: number): OpCost {
  return c.costs[c.costs.length === 1 ? 0 : k];
}

/** Bytes each graph run moves: the sum over its instances (unknown figures left out). */
function bytesPerGraphRun(classes: ClassBuild[], instances: Instances, nGraphs: number): Float64Array {
  const bytes = new Float64Array(nGraphs);
  for (const c of classes) {
    c.instances.forEach((i, k) => {
      const b = costAt(c, k).bytes;
      if (instances.graph[i] >= 0 && b !== null) bytes[instances.graph[i]] += b;
    });
  }
  return bytes;
}

/** Sums over instances: wall time, and FLOPs and bytes with the wall time of the instances that know them. */
interface Totals {
  instances: number;
  wall: number;
  flops: number;
  flopsWall: number;
  flopsKnown: number;
  bytes: number;
  bytesWall: number;
  bytesKnown: number;
}

function emptyTotals(): Totals {
  return { instances: 0, wall: 0, flops: 0, flopsWall: 0, flopsKnown: 0, bytes: 0, bytesWall: 0, bytesKnown: 0 };
}

function addTotals(t: Totals, wall: number, flops: number | null, bytes: number | null, times = 1): void {
  t.instances += times;
  t.wall += wall;
  if (flops !== null) {
    t.flops += flops * times;
    t.flopsWall += wall;
    t.flopsKnown += times;
  }
  if (bytes !== null) {
    t.bytes += bytes * times;
    t.bytesWall += wall;
    t.bytesKnown += times;
  }
}

function finishClass(
  c: ClassBuild,
  instances: Instances,
  spans: SpanStats,
  allSpanNs: number,
  graphBytes: Float64Array,
  ceilings: MachineCeilings | null,
): OpClass {
  const walls = Float64Array.from(c.instances, (i) => instances.endNs[i] - instances.startNs[i]).sort();
  const totals = emptyTotals();
  let graphSum = 0;
  let inGraphs = 0;
  c.instances.forEach((i, k) => {
    const cost = costAt(c, k);
    addTotals(totals, instances.endNs[i] - instances.startNs[i], cost.flops, cost.bytes);
    if (instances.graph[i] >= 0) {
      graphSum += graphBytes[instances.graph[i]];
      inGraphs++;
    }
  });
  const graph_bytes = inGraphs ? graphSum / inGraphs : null;
  const calls = spans.durations.length;
  return {
    key: c.key,
    op: c.op,
    fused: c.fused,
    shape: c.shape,
    type: c.dst.type,
    ne: c.dst.ne,
    sources: c.sources,
    calls,
    threads: spans.threads,
    total_ns: spans.total,
    share: allSpanNs > 0 ? spans.total / allSpanNs : 0,
    mean_ns: calls ? spans.total / calls : 0,
    p50_ns: percentile(spans.durations, 0.5),
    p99_ns: percentile(spans.durations, 0.99),
    wall_mean_ns: walls.length ? totals.wall / walls.length : 0,
    wall_p50_ns: percentile(walls, 0.5),
    wall_p99_ns: percentile(walls, 0.99),
    flops: totals.flopsKnown ? totals.flops / totals.flopsKnown : null,
    bytes: totals.bytesKnown ? totals.bytes / totals.bytesKnown : null,
    ...(c.costs[0]?.conversion ? { conversion: c.costs[0].conversion } : {}),
    graph_bytes,
    notes: [...new Set(c.costs.flatMap((cost) => cost.notes))],
    ...ratesOf(totals, spans.threads, graph_bytes, ceilings),
  };
}

/** Rates of instances summed in `t`, run on `threads` threads. */
function ratesOf(t: Totals, threads: number, graphBytes: number | null, ceilings: MachineCeilings | null): Rates {
  const total_flops = t.flopsKnown ? t.flops : null;
  const total_bytes = t.bytesKnown ? t.bytes : null;
  const gflops = total_flops !== null && t.flopsWall > 0 ? total_flops / t.flopsWall : null;
  const gbps = total_bytes !== null && t.bytesWall > 0 ? total_bytes / t.bytesWall : null;
  const intensity = total_flops !== null && total_bytes ? total_flops / total_bytes : null;
  return {
    instances: t.instances,
    wall_ns: t.wall,
    total_flops,
    total_bytes,
    gflops,
    gbps,
    intensity,
    bound: boundOf({ gflops, gbps, intensity, threads, graphBytes }, ceilings),
  };
}

// ---- the verdict -------------------------------------------------------------------------

interface Achieved {
  gflops: number | null;
  gbps: number | null;
  intensity: number | null;
  threads: number;
  graphBytes: number | null;
}

/** Capacity of a memory level for `threads` threads: L1 and L2 are private per core, L3 is shared. */
function capacity(ceilings: MachineCeilings, level: string, threads: number): number {
  const n = /^L(\d)$/.exec(level)?.[1];
  if (!n) return Infinity;
  const size = cacheSize(ceilings, Number(n));
  return Number(n) <= 2 ? size * threads : size;
}

/**
 * The memory roof: the fastest level that holds what one graph run moves (what an op re-reads comes
 * back after one graph run); where the achieved bandwidth is above that level's roof the data
 * evidently came from closer, so the nearest faster level whose roof is above it.
 */
export function memoryRoof(ceilings: MachineCeilings, threads: number, graphBytes: number | null, gbps: number | null): { level: string; gbps: number } {
  const levels = ceilings.bandwidth_gbps;
  let at = levels.length - 1;
  if (graphBytes !== null) {
    const fits = levels.findIndex((l) => capacity(ceilings, l.level, threads) >= graphBytes);
    if (fits >= 0) at = fits;
  }
  while (at > 0 && gbps !== null && scaled(levels[at], threads) < gbps) at--;
  return { level: levels[at].level, gbps: scaled(levels[at], threads) };
}

const percent = (f: number): string => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;

export function boundOf(a: Achieved, ceilings: MachineCeilings | null): Bound {
  const none = { roof: null, fraction: null, compute_fraction: null, memory_fraction: null, memory_level: null, attainable_gflops: null };
  if (!ceilings) return { verdict: "unknown", ...none, reason: "no machine ceilings" };
  if (a.gflops === null && a.gbps === null) return { verdict: "unknown", ...none, reason: "neither FLOPs nor bytes are known" };
  const computeRoof = scaled(ceilings.peak_gflops, a.threads);
  const memory = memoryRoof(ceilings, a.threads, a.graphBytes, a.gbps);
  const cf = a.gflops === null ? null : a.gflops / computeRoof;
  const mf = a.gbps === null ? null : a.gbps / memory.gbps;
  const attainable = a.intensity === null ? null : Math.min(computeRoof, a.intensity * memory.gbps);
  const common = { compute_fraction: cf, memory_fraction: mf, memory_level: memory.level, attainable_gflops: attainable };
  const computeNearer = cf !== null && (mf === null || cf >= mf);
  const fraction = computeNearer ? (cf as number) : (mf as number);
  const roof = computeNearer ? "compute" : memory.level;
  const both = [cf === null ? null : `${percent(cf)} of the compute roof`, mf === null ? null : `${percent(mf)} of the ${memory.level} roof`];
  const where = both.filter(Boolean).join(", ");
  if (fraction < NEAR_ROOF) {
    return { verdict: "neither", roof, fraction, ...common, reason: `${where}: latency, synchronization or idle time dominate` };
  }
  const verdict = computeNearer ? "compute-bound" : "memory-bound";
  return { verdict, roof, fraction, ...common, reason: `${where}; ${(1 / fraction).toFixed(1)}x below the ${roof} roof` };
}

// ---- per op ------------------------------------------------------------------------------

function rollUp(ops: OpStat[], classes: OpClass[], ceilings: MachineCeilings | null): OpRates[] {
  return ops.map((stat) => {
    const totals = emptyTotals();
    let graphSum = 0;
    let graphWall = 0;
    for (const c of classes) {
      if (c.op !== stat.op || c.fused !== stat.fused) continue;
      totals.instances += c.instances;
      totals.wall += c.wall_ns;
      if (c.total_flops !== null && c.gflops) {
        totals.flops += c.total_flops;
        totals.flopsWall += c.total_flops / c.gflops;
        totals.flopsKnown += c.instances;
      }
      if (c.total_bytes !== null && c.gbps) {
        totals.bytes += c.total_bytes;
        totals.bytesWall += c.total_bytes / c.gbps;
        totals.bytesKnown += c.instances;
      }
      if (c.graph_bytes !== null) {
        graphSum += c.graph_bytes * c.wall_ns;
        graphWall += c.wall_ns;
      }
    }
    return { ...stat, ...ratesOf(totals, stat.threads, graphWall > 0 ? graphSum / graphWall : null, ceilings) };
  });
}

/** "MUL_MAT 71.3% · 1,024 calls · 412 µs avg · 23 GFLOP/s · 11.7 GB/s · memory-bound". */
export function formatOpRates(op: OpRates): string {
  const parts = [
    `${op.op} ${(op.share * 100).toFixed(1)}%`,
    `${op.calls.toLocaleString("en-US")} calls`,
    `${Math.round(op.mean_ns / 1e3).toLocaleString("en-US")} µs avg`,
  ];
  if (op.gflops !== null) parts.push(`${formatRate(op.gflops)} GFLOP/s`);
  if (op.gbps !== null) parts.push(`${formatRate(op.gbps)} GB/s`);
  if (op.bound.verdict !== "unknown") parts.push(op.bound.verdict);
  return parts.join(" · ");
}

/** Three significant digits at most, no exponent. */
export function formatRate(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString("en-US");
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(value >= 1 ? 2 : 3);
}

// ---- assumptions -------------------------------------------------------------------------

function assumptions(classes: OpClass[], outside: number, ceilings: MachineCeilings | null): string[] {
  const list = [
    "achieved GFLOP/s and GB/s use each op instance's wall time: from the first thread's start to the last thread's end of that node in that graph run",
    "FLOPs and bytes follow each op's definition (extension/profile/cost.ts); bytes are the minimum: each source read once, the result written once, in their types' block sizes from the profile",
  ];
  const assumed = new Map<string, string>();
  for (const c of classes) if (c.conversion?.source === "assumed") assumed.set(`${c.sources[0]?.type}`, c.conversion.to);
  if (assumed.size) {
    const pairs = [...assumed].map(([from, to]) => `${to} for ${from}`).join(", ");
    list.push(
      `MUL_MAT: the CPU backend converts src1 to the vec_dot type of src0's type before the dot products (a copy written once, not in the minimum bytes); the profile does not record vec_dot_type, assumed ${pairs}`,
    );
  }
  if (outside) list.push(`${outside} op spans ran outside any recorded graph structure: each is its own instance, with unknown FLOPs and bytes`);
  if (ceilings) {
    list.push(
      `ceilings: peak f32 ${ceilings.cpu.isa} FLOP/s (quantized dot products run integer instructions this roof does not describe) and triad bandwidths, scaled to the threads that ran each op (the one-thread rate times threads, at most the all-threads rate)`,
      "memory roof: the fastest level that holds the bytes one graph run moves (what an op re-reads comes back after one graph run), or a faster one where the achieved bandwidth is above it",
      `verdict: bound by the roof the op is nearer to once it reaches ${NEAR_ROOF * 100}% of it; below that on both: neither (latency, synchronization, idle)`,
    );
  }
  return list;
}
