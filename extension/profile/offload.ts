/**
 * Offload analysis: per op class, the time of the class on each backend that ran it, and per op the
 * break-even by tensor shape: at which batch each backend took the op, and, where the same shape
 * ran on two backends, which was faster per call once the copies of its inputs are counted.
 *
 *   offloadAnalysis(profile) -> { classes, ops }       one profile
 *   compareOffload(a, b)     -> OffloadComparison      the same classes across two profiles
 *
 * How a node's time on a backend is known:
 * - measured: the backend's split ran through ggml_graph_compute, whose op spans the profile has
 *   (the CPU backend): the node's time is its op instance's wall time (first start to last end);
 * - measured on the server: a remote backend's split (RPC) whose nodes a traced server process
 *   computed (same ops, same order): the server's op instance of the same node index;
 * - apportioned: no op spans for the split (BLAS, GPUs, an untraced server): the split's time (its
 *   graph_compute call) is divided among its compute nodes by their FLOPs (else by their bytes,
 *   else evenly), from cost.ts.
 * The copies before a split (its inputs copied into the backend's memory) are attributed to the
 * nodes of that split that read the copied tensor (through views), else evenly to its compute nodes.
 *
 * Break-even and verdicts compare the target process's own backends; the backends of another traced
 * process (an RPC server) are listed per class only.
 *
 * The "batch" of a node is ne[1] of its result: for MUL_MAT the rows of src1, the tokens of the batch
 * (the BLAS backend takes a matmul only from a batch size on: ggml-blas.cpp's supports_op).
 */
import type { BackendSpan, TensorCopy } from "./backends";
import { CostModel, type Tensor } from "./cost";
import type { Evidence, Finding } from "./findings";
import { opInstances, type Instance } from "./instances";
import { lastAtOrBefore } from "./sorted";
import type { GraphNode, Profile } from "./model";

/** Ops that compute nothing (views): they carry no time of their own. */
const VIEW_OPS = new Set(["NONE", "VIEW", "RESHAPE", "PERMUTE", "TRANSPOSE"]);

/** One node computed once on one backend. */
interface NodeCall {
  backend: number;
  op: string;
  classKey: string;
  shape: string;
  batch: number;
  ns: number;
  copyNs: number;
  copyBytes: number;
  measured: boolean;
}

/** Calls of a class or of an op at one batch on one backend. */
export interface BackendCalls {
  backend: number;
  name: string;
  calls: number;
  /** Compute time of all calls, without copies. */
  ns: number;
  /** Time and bytes of the copies attributed to these calls. */
  copyNs: number;
  copyBytes: number;
  /** Mean time per call including its copies. */
  perCallNs: number;
  /** Every call's time was measured by op spans (else apportioned from its split's time). */
  measured: boolean;
}

export interface OffloadClassTimes {
  /** As roofline.ts keys classes: "MUL_MAT f32[256,64] = q4_0[256,256] · f32[256,64]". */
  key: string;
  op: string;
  batch: number;
  /** Fastest per call (copies included) first. */
  backends: BackendCalls[];
}

/** One op at one shape (a class): the backends that took it, fastest per call (copies included) first. */
export interface ShapeRow {
  batch: number;
  /** The class key and its types and shapes. */
  key: string;
  shape: string;
  backends: BackendCalls[];
}

/** Per op, where the batches went and where the same shape ran on more than one backend. */
export interface OpBreakEven {
  op: string;
  /** Ascending batch, then shape. */
  rows: ShapeRow[];
  /**
   * Consecutive batches taken by the same backend(s), over the op's shapes at each batch: "CPU"
   * 1-31, "BLAS+CPU" 150 (some shapes of that batch on each, e.g. a matrix product of two
   * activations that BLAS does not take).
   */
  ranges: { backends: string; from: number; to: number }[];
}

export interface OffloadAnalysis {
  backends: { id: number; name: string; pid: number }[];
  /** Classes that ran on a backend other than the CPU one, or on more than one; largest time first. */
  classes: OffloadClassTimes[];
  /** Ops any backend other than the CPU one took. */
  ops: OpBreakEven[];
}

// ---- per node calls ----------------------------------------------------------------------

export function offloadAnalysis(profile: Profile): OffloadAnalysis {
  const calls = nodeCalls(profile);
  const names = backendLabels(profile);
  const local = localCalls(profile, calls);
  const offloadedOps = new Set(local.filter((c) => !isCpu(names[c.backend])).map((c) => c.op));
  const byClass = groupBy(calls, (c) => c.classKey);
  const classes = [...byClass.values()]
    .map((list): OffloadClassTimes => ({ key: list[0].classKey, op: list[0].op, batch: list[0].batch, backends: backendCalls(list, names) }))
    .filter((c) => c.backends.length > 1 || !isCpu(c.backends[0].name))
    .sort((a, b) => total(b) - total(a));
  const ops = [...offloadedOps].sort().map((op) => breakEven(op, local.filter((c) => c.op === op), names));
  return { backends: profile.backends.map((b) => ({ id: b.id, name: names[b.id], pid: b.pid })), classes, ops };
}

/**
 * The calls of the target's own backends: a backend of another traced process (an RPC server's
 * CPU backend) computes the inside of a client's remote backend, not an alternative to it.
 */
function localCalls(profile: Profile, calls: NodeCall[]): NodeCall[] {
  const pid = profile.header.target.pid;
  return calls.filter((c) => profile.backends[c.backend]?.pid === pid);
}

/** Backend names, with the process where two backends of different processes share a name (an RPC server's CPU). */
function backendLabels(profile: Profile): string[] {
  const count = new Map<string, number>();
  for (const b of profile.backends) count.set(b.name, (count.get(b.name) ?? 0) + 1);
  return profile.backends.map((b) => ((count.get(b.name) ?? 0) > 1 ? `${b.name} (pid ${b.pid})` : b.name));
}

/** Whether a backend other than the CPU one computed a graph: else there is nothing offloaded to analyse. */
export function hasOffloadBackend(profile: Profile): boolean {
  return profile.backends.some((b) => !isCpu(b.name));
}

/** The CPU backend names itself "CPU" (ggml-cpu.cpp); the comparison is against it. */
function isCpu(name: string): boolean {
  return /^CPU\b/i.test(name);
}

function total(c: OffloadClassTimes): number {
  return c.backends.reduce((n, b) => n + b.ns + b.copyNs, 0);
}

function nodeCalls(profile: Profile): NodeCall[] {
  const cost = new CostModel(profile.header.types);
  const instancesBySpan = instancesInSpans(profile, opInstances(profile));
  const copiesBySpan = copiesBeforeSpans(profile.backendSpans, profile.copies);
  const remote = remoteSpans(profile, instancesBySpan);
  const calls: NodeCall[] = [];
  profile.backendSpans.forEach((span, s) => {
    const nodes = splitNodes(profile, s);
    const measured = instancesBySpan.get(s);
    const server = remote.get(s);
    const serverInstances = server === undefined ? undefined : instancesBySpan.get(server);
    const spanCalls = measured
      ? measuredCalls(span, measured, nodes)
      : serverInstances
        ? serverCalls(span, serverInstances, nodes)
        : apportionedCalls(span, nodes, cost);
    attributeCopies(spanCalls, copiesBySpan.get(s) ?? [], nodes);
    for (const c of spanCalls) calls.push(c.call);
  });
  return calls;
}

/**
 * A client's remote backend (RPC) hands its split over and returns: the compute is the traced
 * server's split of the same nodes. Each server span (another process) is paired with the first
 * unpaired client span without op spans, begun before it, whose nodes are the same ops in the
 * same order. Client span index -> server span index.
 */
function remoteSpans(profile: Profile, instancesBySpan: Map<number, Instance[]>): Map<number, number> {
  const target = profile.header.target.pid;
  const opsOf = (s: number): string => (profile.structures.get(profile.backendSpans[s].signature) ?? []).map((n) => n.op).join(",");
  const waiting = new Map<string, number[]>();
  const pairs = new Map<number, number>();
  profile.backendSpans.forEach((span, s) => {
    const ops = opsOf(s);
    if (!ops) return;
    if (span.pid === target) {
      if (instancesBySpan.has(s)) return;
      let queue = waiting.get(ops);
      if (!queue) waiting.set(ops, (queue = []));
      queue.push(s);
      return;
    }
    const client = waiting.get(ops)?.shift();
    if (client !== undefined) pairs.set(client, s);
  });
  return pairs;
}

/** The client's nodes timed by the server's op instances of the same node index. */
function serverCalls(span: BackendSpan, instances: Instance[], nodes: GraphNode[]): SpanCall[] {
  const byIndex = new Map(nodes.map((n) => [n.index, n]));
  const calls: SpanCall[] = [];
  for (const i of instances) {
    const node = byIndex.get(i.node.index);
    if (node) calls.push({ node, call: newCall(span.backend, node, i.endNs - i.startNs, true) });
  }
  return calls;
}

/** A call and the node it ran (what the copies are matched against). */
interface SpanCall {
  node: GraphNode;
  call: NodeCall;
}

/** The op instances of graph runs inside each backend span, on its thread, by span index. */
function instancesInSpans(profile: Profile, instances: Instance[]): Map<number, Instance[]> {
  const onThread = new ThreadSpans(profile.backendSpans);
  const spanOfGraph = profile.graphs.map((g) => {
    const s = onThread.lastStartedBy(g.tid, g.startNs);
    return s >= 0 && g.startNs <= profile.backendSpans[s].endNs ? s : -1;
  });
  const bySpan = new Map<number, Instance[]>();
  for (const instance of instances) {
    const s = spanOfGraph[instance.graph];
    if (s === undefined || s < 0 || VIEW_OPS.has(instance.node.op)) continue;
    let list = bySpan.get(s);
    if (!list) bySpan.set(s, (list = []));
    list.push(instance);
  }
  return bySpan;
}

function measuredCalls(span: BackendSpan, instances: Instance[], nodes: GraphNode[]): SpanCall[] {
  const byTensor = new Map(nodes.map((n) => [n.tensor, n]));
  return instances.map((i) => {
    const node = byTensor.get(i.node.tensor) ?? i.node;
    return { node, call: newCall(span.backend, node, i.endNs - i.startNs, true) };
  });
}

/**
 * The nodes of backend span `s`, with the sources its split does not describe (results of another
 * split of the same scheduler run, read in place) described from the split that computed them.
 */
export function splitNodes(profile: Profile, s: number): GraphNode[] {
  const span = profile.backendSpans[s];
  const nodes = profile.structures.get(span.signature) ?? [];
  const run = profile.schedGraphs[span.schedGraph];
  if (!run || nodes.every(sourcesDescribed)) return nodes;
  const known = new Map<number, Tensor>();
  for (const other of run.spans) {
    for (const n of profile.structures.get(profile.backendSpans[other].signature) ?? []) known.set(n.tensor, { type: n.type, ne: n.ne });
  }
  return nodes.map((n) =>
    sourcesDescribed(n)
      ? n
      : {
          ...n,
          srcTypes: n.src.map((address, i) => n.srcTypes?.[i] || known.get(address)?.type || ""),
          srcNe: n.src.map((address, i) => (n.srcNe?.[i]?.length ? n.srcNe[i] : (known.get(address)?.ne ?? []))),
        },
  );
}

function sourcesDescribed(n: GraphNode): boolean {
  return n.src.every((address, i) => address === 0 || (Boolean(n.srcTypes?.[i]) && (n.srcNe?.[i]?.length ?? 0) > 0));
}

/** The span's time divided among its compute nodes by FLOPs, else bytes, else evenly. */
function apportionedCalls(span: BackendSpan, nodes: GraphNode[], cost: CostModel): SpanCall[] {
  const compute = nodes.filter((n) => !VIEW_OPS.has(n.op));
  const costs = compute.map((n) => cost.cost({ op: n.op, dst: { type: n.type, ne: n.ne }, src: sourcesOf(n) }));
  const weights = costs.every((c) => c.flops !== null && c.flops > 0)
    ? costs.map((c) => c.flops as number)
    : costs.every((c) => c.bytes !== null && c.bytes > 0)
      ? costs.map((c) => c.bytes as number)
      : compute.map(() => 1);
  const sum = weights.reduce((a, b) => a + b, 0);
  const spanNs = span.endNs - span.startNs;
  return compute.map((node, k) => ({ node, call: newCall(span.backend, node, (spanNs * weights[k]) / sum, false) }));
}

function newCall(backend: number, node: GraphNode, ns: number, measured: boolean): NodeCall {
  const shape = nodeShape(node);
  return { backend, op: node.op, classKey: `${node.op} ${shape}`, shape, batch: node.ne[1] ?? 1, ns, copyNs: 0, copyBytes: 0, measured };
}

function sourcesOf(node: GraphNode): (Tensor | undefined)[] {
  return node.src.map((address, i) => {
    const type = node.srcTypes?.[i];
    const ne = node.srcNe?.[i];
    return address !== 0 && type && ne && ne.length > 0 ? { type, ne } : undefined;
  });
}

/** "f32[256,9] = q4_0[256,256] · f32[256,9]", as roofline.ts writes a class's shape. */
function nodeShape(node: GraphNode): string {
  const text = (t: Tensor | undefined): string => (t ? `${t.type}${dims(t.ne)}` : "?");
  return `${text({ type: node.type, ne: node.ne })} = ${sourcesOf(node).map(text).join(" · ")}`;
}

function dims(ne: number[]): string {
  const shown = [...ne];
  while (shown.length > 1 && shown[shown.length - 1] === 1) shown.pop();
  return `[${shown.join(",")}]`;
}

/** Backend spans per thread in order of start, searched by time. */
class ThreadSpans {
  private readonly byTid = new Map<number, { index: number[]; starts: number[] }>();

  constructor(spans: BackendSpan[]) {
    spans.forEach((span, i) => {
      let lane = this.byTid.get(span.tid);
      if (!lane) this.byTid.set(span.tid, (lane = { index: [], starts: [] }));
      lane.index.push(i);
      lane.starts.push(span.startNs);
    });
  }

  /** The span of `tid` that started last at or before `ns`, -1 when none. */
  lastStartedBy(tid: number, ns: number): number {
    const lane = this.byTid.get(tid);
    const at = lane ? lastAtOrBefore(lane.starts, ns) : -1;
    return lane && at >= 0 ? lane.index[at] : -1;
  }

  /** The first span of `tid` that started at or after `ns`, -1 when none. */
  firstStartedFrom(tid: number, ns: number): number {
    const lane = this.byTid.get(tid);
    if (!lane) return -1;
    const at = lastAtOrBefore(lane.starts, ns);
    const first = at >= 0 && lane.starts[at] === ns ? firstEqual(lane.starts, at) : at + 1;
    return first < lane.index.length ? lane.index[first] : -1;
  }
}

/** The first index of the run of equal values ending at `at`. */
function firstEqual(sorted: number[], at: number): number {
  let i = at;
  while (i > 0 && sorted[i - 1] === sorted[at]) i--;
  return i;
}

// ---- copies ------------------------------------------------------------------------------

/** Each copy goes to the first backend span on its thread that starts after it ended: the split it fed. */
function copiesBeforeSpans(spans: BackendSpan[], copies: TensorCopy[]): Map<number, TensorCopy[]> {
  const onThread = new ThreadSpans(spans);
  const bySpan = new Map<number, TensorCopy[]>();
  for (const copy of copies) {
    const s = onThread.firstStartedFrom(copy.tid, copy.endNs);
    if (s < 0) continue;
    let list = bySpan.get(s);
    if (!list) bySpan.set(s, (list = []));
    list.push(copy);
  }
  return bySpan;
}

/** Copy time and bytes shared among the calls whose node reads the copied tensor (through views), else among all. */
function attributeCopies(calls: SpanCall[], copies: TensorCopy[], nodes: GraphNode[]): void {
  if (calls.length === 0) return;
  const byTensor = new Map(nodes.map((n) => [n.tensor, n]));
  const base = (tensor: number, depth = 0): number => {
    const view = byTensor.get(tensor);
    return view && VIEW_OPS.has(view.op) && view.src[0] && depth < nodes.length ? base(view.src[0], depth + 1) : tensor;
  };
  for (const copy of copies) {
    const readers = calls.filter((c) => c.node.src.some((s) => s !== 0 && base(s) === copy.dst));
    const shared = readers.length > 0 ? readers : calls;
    for (const { call } of shared) {
      call.copyNs += (copy.endNs - copy.startNs) / shared.length;
      call.copyBytes += copy.bytes / shared.length;
    }
  }
}

// ---- aggregation -------------------------------------------------------------------------

function groupBy<T, K>(list: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of list) {
    const k = key(item);
    let group = groups.get(k);
    if (!group) groups.set(k, (group = []));
    group.push(item);
  }
  return groups;
}

/** Calls summed per backend, fastest per call (copies included) first. */
function backendCalls(calls: NodeCall[], names: string[]): BackendCalls[] {
  return [...groupBy(calls, (c) => c.backend).entries()]
    .map(([backend, list]): BackendCalls => {
      const sum = (f: (c: NodeCall) => number): number => list.reduce((n, c) => n + f(c), 0);
      const [ns, copyNs] = [sum((c) => c.ns), sum((c) => c.copyNs)];
      return { backend, name: names[backend], calls: list.length, ns, copyNs, copyBytes: sum((c) => c.copyBytes), perCallNs: (ns + copyNs) / list.length, measured: list.every((c) => c.measured) };
    })
    .sort((a, b) => a.perCallNs - b.perCallNs);
}

function breakEven(op: string, calls: NodeCall[], names: string[]): OpBreakEven {
  const rows = [...groupBy(calls, (c) => c.classKey).values()]
    .map((list): ShapeRow => ({ batch: list[0].batch, key: list[0].classKey, shape: list[0].shape, backends: backendCalls(list, names) }))
    .sort((a, b) => a.batch - b.batch || a.key.localeCompare(b.key));
  const ranges: OpBreakEven["ranges"] = [];
  for (const [batch, atBatch] of groupBy(rows, (r) => r.batch)) {
    const backends = [...new Set(atBatch.flatMap((r) => r.backends.map((b) => b.name)))].sort().join("+");
    const last = ranges[ranges.length - 1];
    if (last && last.backends === backends) last.to = batch;
    else ranges.push({ backends, from: batch, to: batch });
  }
  return { op, rows, ranges };
}

/** The calls of several shapes on one backend as one. */
function merged(list: BackendCalls[]): BackendCalls {
  const sum = (f: (b: BackendCalls) => number): number => list.reduce((n, b) => n + f(b), 0);
  const [calls, ns, copyNs] = [sum((b) => b.calls), sum((b) => b.ns), sum((b) => b.copyNs)];
  return { ...list[0], calls, ns, copyNs, copyBytes: sum((b) => b.copyBytes), perCallNs: (ns + copyNs) / calls, measured: list.every((b) => b.measured) };
}

// ---- across two profiles -----------------------------------------------------------------

/** One class in both profiles: the fastest backend of each, per call with copies. */
export interface ClassComparison {
  key: string;
  op: string;
  batch: number;
  before: BackendCalls;
  after: BackendCalls;
  /** after / before per call: below 1 the after run was faster. */
  ratio: number;
}

export interface OffloadComparison {
  /** Classes whose fastest backend differs between the runs (one offloaded, one not, or two offload backends). */
  classes: ClassComparison[];
  /** Classes where the after run's backend was faster per call. */
  afterFaster: number;
  /** Time the after run's calls of these classes took less than the before run's backend would have (negative: more). */
  savedNs: number;
}

/**
 * The classes that ran on a backend other than the CPU one in either profile, matched by class key
 * (op, types and shapes): a CPU-only run against an offload run gives the same shape on both.
 */
export function compareOffload(before: Profile, after: Profile): OffloadComparison {
  const [a, b] = [classesByKey(before), classesByKey(after)];
  const classes: ClassComparison[] = [];
  for (const [key, x] of a) {
    const y = b.get(key);
    if (!y) continue;
    const [first, second] = [x.backends[0], y.backends[0]];
    if (first.name === second.name && isCpu(first.name)) continue;
    classes.push({ key, op: x.op, batch: x.batch, before: first, after: second, ratio: second.perCallNs / first.perCallNs });
  }
  return {
    classes: classes.sort((p, q) => q.before.perCallNs * q.before.calls - p.before.perCallNs * p.before.calls),
    afterFaster: classes.filter((k) => k.ratio < 1).length,
    savedNs: classes.reduce((n, k) => n + (k.before.perCallNs - k.after.perCallNs) * k.after.calls, 0),
  };
}

/** Every class of the profile (CPU-only ones too), by key. */
function classesByKey(profile: Profile): Map<string, OffloadClassTimes> {
  const names = backendLabels(profile);
  const byClass = groupBy(nodeCalls(profile), (c) => c.classKey);
  return new Map([...byClass].map(([key, list]) => [key, { key, op: list[0].op, batch: list[0].batch, backends: backendCalls(list, names) }]));
}

// ---- finding -----------------------------------------------------------------------------

/** What findings.ts needs to make the offload finding. */
export type OffloadFindingParts = Pick<Finding, "title" | "score" | "numbers" | "details" | "evidence"> & { subject: string };

/**
 * Per offloaded op: the batches each backend took, its offloaded calls per batch, and where the same
 * shape ran on both the CPU backend and another, whether offloading paid (per call, copies
 * included). Score: the share of all backend time the offloaded calls took, or the time lost where
 * offloading did not pay.
 */
export function offloadFindingParts(analysis: OffloadAnalysis, backendNs: number): OffloadFindingParts | null {
  if (analysis.ops.length === 0) return null;
  const perOp = analysis.ops.map(opFinding).sort((a, b) => b.offloadedNs - a.offloadedNs);
  const shown = perOp.slice(0, FINDING_OPS);
  const details = shown.flatMap((o) => o.details);
  if (perOp.length > shown.length) details.push(`... and ${perOp.length - shown.length} more op(s): the report's offload break-even table has them all`);
  const sum = (f: (o: OpFinding) => number): number => perOp.reduce((n, o) => n + f(o), 0);
  const [offloadedNs, lossNs, verdicts] = [sum((o) => o.offloadedNs), sum((o) => o.lossNs), sum((o) => o.verdicts)];
  if (verdicts === 0) details.push("no shape ran on both the CPU backend and another here: 'ggml-lens diff' against a CPU-only run of the same prompt compares the same shapes");
  const losing = perOp.filter((o) => o.lossNs > 0).map((o) => o.op.op);
  const title =
    losing.length > 0
      ? `offload did not pay off for some shapes of ${losing.join(", ")}: with the copies they ran slower than on the CPU`
      : perOp.length <= TITLE_OPS
        ? `offload: ${perOp.map((o) => rangeSummary(o.op)).join("; ")}`
        : `offload: ${perOp.length} ops ran on ${[...new Set(analysis.ops.flatMap((o) => o.rows.flatMap((r) => r.backends.map((b) => b.name))))].filter((n) => !isCpu(n)).join(", ")}, most time in ${shown.slice(0, TITLE_OPS).map((o) => o.op.op).join(", ")}`;
  return {
    subject: losing.length > 0 ? "loss" : "ops",
    title,
    score: backendNs > 0 ? Math.min(1, (lossNs > 0 ? lossNs : offloadedNs) / backendNs) : 0,
    numbers: { offloaded_ms: offloadedNs / 1e6, loss_ms: lossNs / 1e6, compared_shapes: verdicts, ops: perOp.length },
    details,
    evidence: perOp.slice(0, EVIDENCE_OPS).map((o): Evidence => ({ kind: "offload", op: o.op.op })),
  };
}

/** Ops detailed in the finding, named in its title, and linked as evidence (those with the most offloaded time). */
const FINDING_OPS = 5;
const TITLE_OPS = 2;
const EVIDENCE_OPS = 3;

interface OpFinding {
  op: OpBreakEven;
  details: string[];
  offloadedNs: number;
  lossNs: number;
  verdicts: number;
}

/** One op's lines: where its batches went, its offloaded calls per batch, its verdicts per shape. */
function opFinding(op: OpBreakEven): OpFinding {
  const f: OpFinding = { op, details: [`${op.op}: ${op.ranges.map((r) => `batch ${r.from === r.to ? r.from : `${r.from}-${r.to}`} on ${r.backends}`).join(", ")}`], offloadedNs: 0, lossNs: 0, verdicts: 0 };
  for (const [batch, rows] of groupBy(op.rows, (r) => r.batch)) {
    const offloaded = rows.flatMap((r) => r.backends).filter((b) => !isCpu(b.name));
    for (const [, list] of groupBy(offloaded, (b) => b.name)) {
      const all = merged(list);
      f.offloadedNs += all.ns + all.copyNs;
      f.details.push(`  batch ${batch}: ${all.name} ${callText(all)} over ${list.length} shape(s)`);
    }
  }
  for (const row of op.rows) {
    const cpu = row.backends.find((b) => isCpu(b.name));
    if (!cpu) continue;
    for (const other of row.backends.filter((b) => !isCpu(b.name))) {
      f.details.push(`  ${row.shape}: ${other.name} ${callText(other)} vs ${cpu.name} ${callText(cpu)}: ${other.perCallNs < cpu.perCallNs ? "offload paid" : "offload did not pay"}`);
      f.verdicts++;
      f.lossNs += Math.max(0, (other.perCallNs - cpu.perCallNs) * other.calls);
    }
  }
  return f;
}

function rangeSummary(op: OpBreakEven): string {
  return `${op.op} ran on ${op.ranges.map((r) => `${r.backends} at batch ${r.from === r.to ? r.from : `${r.from}-${r.to}`}`).join(", ")}`;
}

function callText(b: BackendCalls): string {
  const copies = b.copyBytes > 0 ? ` incl. ${bytesText(b.copyBytes / b.calls)} of copies` : "";
  return `${micros(b.perCallNs)}/call${copies} (${b.calls} call${b.calls === 1 ? "" : "s"}${b.measured ? "" : ", from split time"})`;
}

function micros(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
}

function bytesText(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

// ---- text --------------------------------------------------------------------------------

/** The break-even table of the report: per offloaded op and batch, each backend per call with copies. */
export function breakEvenText(analysis: OffloadAnalysis): string[] {
  if (analysis.ops.length === 0) return [];
  const lines = ["Offload break-even (per op and shape, batch = result ne[1]; per call, copies included; fastest first)"];
  for (const op of analysis.ops) {
    for (const row of op.rows) {
      lines.push(`  ${op.op.padEnd(10)} batch ${String(row.batch).padStart(5)}  ${row.shape}`);
      lines.push(`        ${row.backends.map((b) => `${b.name} ${callText(b)}`).join("  |  ")}`);
    }
  }
  return [...lines, ""];
}

export function comparisonText(c: OffloadComparison): string[] {
  if (c.classes.length === 0) return [];
  const lines = ["Offload (same op class in both runs, fastest backend of each, per call with copies):"];
  for (const k of c.classes) {
    lines.push(`  ${k.key}`);
    lines.push(`    before ${k.before.name} ${callText(k.before)}  after ${k.after.name} ${callText(k.after)}  x${k.ratio.toFixed(2)}${k.ratio < 1 ? " (after faster)" : " (before faster)"}`);
  }
  const saved = c.savedNs >= 0 ? `${micros(c.savedNs)} less` : `${micros(-c.savedNs)} more`;
  lines.push(`  after faster for ${c.afterFaster} of ${c.classes.length} classes; the after run's calls of them took ${saved} than the before run's backend per call would have`);
  return lines;
}
