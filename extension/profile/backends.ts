/**
 * Backends and offload: which ggml backends computed which graphs (the scheduler's splits), the
 * tensors copied into a backend's memory between them, and the processes the traced threads belong
 * to (a client and its RPC server are traced together, on one clock).
 *
 * Nothing here knows a backend by name: a backend is named by what the target said (its
 * ggml_backend_name, its device's name) or by the symbol of its graph_compute function.
 */
import { CopyKind, MAX_DIMS_CAP, NameKind, readColumns, tensorName, type DecodedStream, type HeaderInfo, type SampleSymbol } from "./stream";
import type { GraphLeaf, GraphNode, GraphRun } from "./model";
import { lastAtOrBeforeBy } from "./sorted";

/** A ggml backend (one backend object of one process) that computed at least one graph. */
export interface BackendInfo {
  /** Index in Profile.backends: BackendSpan.backend and TensorCopy.fromBackend/toBackend point here. */
  id: number;
  /** What the target calls it: its ggml_backend_name, else its device's name, else from the symbol of its graph_compute. */
  name: string;
  nameSource: "backend" | "device" | "symbol" | "address";
  /** The ggml_backend_t in its process. */
  address: number;
  pid: number;
  /** The backend's iface.graph_compute function and its library, when the trailer symbolized them. */
  computeFunction: string | null;
  library: string | null;
}

/**
 * One graph computed by one backend: a split of the scheduler's graph, with its nodes (signature: ""
 * when they were not recorded). Its end is when ggml_backend_graph_compute_async returned: an
 * asynchronous backend (RPC, GPUs) returns once the graph is queued.
 */
export interface BackendSpan extends GraphRun {
  /** Index in Profile.backends. */
  backend: number;
  pid: number;
  /** Index in Profile.schedGraphs of the scheduler run it belongs to, -1 when none. */
  schedGraph: number;
}

/** One whole graph computed by the backend scheduler (ggml_backend_sched_graph_compute_async), split by split. */
export interface SchedGraphRun {
  tid: number;
  pid: number;
  startNs: number;
  endNs: number;
  /** The ggml_backend_sched_t. */
  sched: number;
  graph: number;
  nNodes: number;
  status: number | null;
  /** Its backend spans: indices in Profile.backendSpans. */
  spans: number[];
  /** Its copies: indices in Profile.copies. */
  copies: number[];
}

/** A tensor copied into a backend's memory (or, for "set_async", a part of one written from host memory). */
export interface TensorCopy {
  kind: "copy" | "copy_async" | "set_async";
  tid: number;
  pid: number;
  startNs: number;
  endNs: number;
  /** Source tensor (0 for set_async) and destination tensor. */
  src: number;
  dst: number;
  /** The source tensor's name (the destination's for set_async). */
  name: string;
  type: string;
  ne: number[];
  /** Bytes copied: ggml_nbytes of dst from the header's type traits; for set_async the size written. */
  bytes: number;
  /** Backend whose split (in the same scheduler run) computed src (index in Profile.backends); -1 for host data (a weight, an input) or a copy outside a scheduler run. */
  fromBackend: number;
  /** Backend of the split of the same scheduler run that read dst next; -1 when none followed (or outside a scheduler run). */
  toBackend: number;
}

/** What Profile gains from the backend records. */
export interface BackendModel {
  backends: BackendInfo[];
  /** Sorted by start. */
  backendSpans: BackendSpan[];
  /** Sorted by start. */
  schedGraphs: SchedGraphRun[];
  /** Sorted by start. */
  copies: TensorCopy[];
  /** The process of each traced thread that said so (THREAD records); others belong to the target. */
  threadPids: Map<number, number>;
}

/** Begin/end rows paired per thread (model.ts pairByThread). */
export interface PairedRows {
  count: number;
  begin: Uint32Array;
  end: Int32Array;
  endNs: Float64Array;
}

/** The backend model of a decoded stream; `pairs` are the begin/end rows of its backend and scheduler graphs. */
export function buildBackends(
  stream: DecodedStream,
  structures: Map<string, GraphNode[]>,
  leaves: Map<string, Map<number, GraphLeaf>>,
  pairs: { backend: PairedRows; sched: PairedRows },
): BackendModel {
  const threadPids = threadProcesses(stream);
  const pidOf = (tid: number): number => threadPids.get(tid) ?? stream.header.info.target.pid;
  const names = new BackendNames(stream, pidOf);
  const backendSpans = spansOf(stream, pairs.backend, pidOf, names);
  const schedGraphs = schedGraphsOf(stream, pairs.sched, pidOf);
  const copies = copiesOf(stream, pidOf);
  const copyRuns = placeInSchedGraphs(schedGraphs, backendSpans, copies);
  const nodes = copies.length ? nodeSets(structures) : new Map<string, Set<number>>();
  copies.forEach((copy, i) => {
    const run = copyRuns[i] < 0 ? [] : schedGraphs[copyRuns[i]].spans.map((s) => backendSpans[s]);
    copy.fromBackend = producerOf(copy, run, nodes);
    copy.toBackend = consumerOf(copy, run, structures, leaves);
  });
  return { backends: names.backends, backendSpans, schedGraphs, copies, threadPids };
}

function threadProcesses(stream: DecodedStream): Map<number, number> {
  const t = stream.tables.thread;
  const pids = new Map<number, number>();
  for (let i = 0; i < t.count; i++) pids.set(t.tid[i], t.pid[i]);
  return pids;
}

/** Numbers the backends in order of first compute, and names each from what the target said. */
class BackendNames {
  readonly backends: BackendInfo[] = [];
  private readonly index = new Map<string, number>();
  private readonly said = new Map<string, string>();
  private readonly symbols: Map<number, SampleSymbol>;

  constructor(
    stream: DecodedStream,
    private readonly pidOf: (tid: number) => number,
  ) {
    const t = stream.tables.backendName;
    for (let i = 0; i < t.count; i++) {
      const kind = t.kind[i] === NameKind.Device ? "device" : "backend";
      this.said.set(`${kind}:${pidOf(t.tid[i])}:${t.object[i]}`, tensorName(stream, "backendName", i));
    }
    this.symbols = new Map((stream.trailer?.symbols ?? []).map((s) => [s.ip, s]));
  }

  of(tid: number, address: number, device: number, computeFn: number): number {
    const pid = this.pidOf(tid);
    const key = `${pid}:${address}`;
    let id = this.index.get(key);
    if (id === undefined) {
      id = this.backends.push(this.describe(this.backends.length, pid, address, device, computeFn)) - 1;
      this.index.set(key, id);
    }
    return id;
  }

  private describe(id: number, pid: number, address: number, device: number, computeFn: number): BackendInfo {
    const symbol = this.symbols.get(computeFn);
    const computeFunction = symbol?.function ?? null;
    const own = this.said.get(`backend:${pid}:${address}`);
    const ofDevice = device ? this.said.get(`device:${pid}:${device}`) : undefined;
    const fromSymbol = computeFunction ? nameFromComputeSymbol(computeFunction) : undefined;
    const [name, nameSource]: [string, BackendInfo["nameSource"]] = own
      ? [own, "backend"]
      : ofDevice
        ? [ofDevice, "device"]
        : fromSymbol
          ? [fromSymbol, "symbol"]
          : [`backend@0x${address.toString(16)}`, "address"];
    return { id, name, nameSource, address, pid, computeFunction, library: symbol?.path ?? null };
  }
}

/**
 * A name from the symbol of a backend's graph_compute (a C++ one with its parameters): ggml's
 * backends name these functions ggml_backend_<name>_graph_compute; another symbol is used whole.
 */
export function nameFromComputeSymbol(symbol: string): string {
  const bare = symbol.replace(/\(.*$/, "");
  const match = /^ggml_backend_(\w+?)_graph_compute$/.exec(bare);
  return match ? match[1].toUpperCase() : bare;
}

function hex64(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

function spansOf(stream: DecodedStream, pairs: PairedRows, pidOf: (tid: number) => number, names: BackendNames): BackendSpan[] {
  const b = stream.tables.backendGraphBegin;
  const e = stream.tables.backendGraphEnd;
  readColumns(b, ["backend", "graph", "signature", "computeFn", "device", "nNodes"]);
  const spans: BackendSpan[] = [];
  for (let i = 0; i < pairs.count; i++) {
    const row = pairs.begin[i];
    const end = pairs.end[i];
    spans.push({
      backend: names.of(b.tid[row], b.backend[row], b.device[row], b.computeFn[row]),
      tid: b.tid[row],
      pid: pidOf(b.tid[row]),
      startNs: b.ts[row],
      endNs: pairs.endNs[i],
      graph: b.graph[row],
      signature: b.signature[row] === 0n ? "" : hex64(b.signature[row]),
      nNodes: b.nNodes[row],
      status: end < 0 ? null : e.status[end],
      schedGraph: -1,
    });
  }
  return spans.sort((x, y) => x.startNs - y.startNs);
}

function schedGraphsOf(stream: DecodedStream, pairs: PairedRows, pidOf: (tid: number) => number): SchedGraphRun[] {
  const b = stream.tables.schedGraphBegin;
  const e = stream.tables.schedGraphEnd;
  const runs: SchedGraphRun[] = [];
  for (let i = 0; i < pairs.count; i++) {
    const row = pairs.begin[i];
    const end = pairs.end[i];
    runs.push({
      tid: b.tid[row],
      pid: pidOf(b.tid[row]),
      startNs: b.ts[row],
      endNs: pairs.endNs[i],
      sched: b.backend[row],
      graph: b.graph[row],
      nNodes: b.nNodes[row],
      status: end < 0 ? null : e.status[end],
      spans: [],
      copies: [],
    });
  }
  return runs.sort((x, y) => x.startNs - y.startNs);
}

const COPY_KINDS: Record<number, TensorCopy["kind"]> = {
  [CopyKind.Sync]: "copy",
  [CopyKind.Async]: "copy_async",
  [CopyKind.SetAsync]: "set_async",
};

function copiesOf(stream: DecodedStream, pidOf: (tid: number) => number): TensorCopy[] {
  const t = stream.tables.tensorCopy;
  const header = stream.header.info;
  const copies: TensorCopy[] = [];
  for (let i = 0; i < t.count; i++) {
    const ne = Array.from(t.ne.subarray(i * MAX_DIMS_CAP, (i + 1) * MAX_DIMS_CAP));
    const nb = Array.from(t.nb.subarray(i * MAX_DIMS_CAP, (i + 1) * MAX_DIMS_CAP));
    const kind = COPY_KINDS[t.kind[i]] ?? "copy";
    copies.push({
      kind,
      tid: t.tid[i],
      pid: pidOf(t.tid[i]),
      startNs: t.ts[i],
      endNs: t.endTs[i],
      src: t.src[i],
      dst: t.dst[i],
      name: tensorName(stream, "tensorCopy", i),
      type: header.types[t.type[i]]?.name ?? `type#${t.type[i]}`,
      ne,
      bytes: kind === "set_async" ? t.size[i] : tensorBytes(header, t.type[i], ne, nb),
      fromBackend: -1,
      toBackend: -1,
    });
  }
  return copies.sort((x, y) => x.startNs - y.startNs);
}

/**
 * ggml_nbytes: the bytes a tensor of this type, shape and strides spans, from the type's traits in
 * the header (block size and block bytes as the target defines them); NaN when the type is unknown.
 */
export function tensorBytes(header: HeaderInfo, type: number, ne: number[], nb: number[]): number {
  const traits = header.types[type];
  if (!traits || !(traits.blck_size > 0)) return NaN;
  if (ne.some((n) => n <= 0)) return 0;
  let bytes = traits.blck_size === 1 ? traits.type_size : (ne[0] * nb[0]) / traits.blck_size;
  for (let i = traits.blck_size === 1 ? 0 : 1; i < ne.length; i++) bytes += (ne[i] - 1) * nb[i];
  return bytes;
}

/**
 * Assigns spans and copies to the scheduler run on their thread that encloses them (runs of a
 * thread do not overlap: the last one begun before is the only candidate). Returns each copy's run, -1 for none.
 */
function placeInSchedGraphs(runs: SchedGraphRun[], spans: BackendSpan[], copies: TensorCopy[]): number[] {
  const byThread = new Map<number, number[]>();
  runs.forEach((run, i) => {
    const own = byThread.get(run.tid);
    if (own) own.push(i);
    else byThread.set(run.tid, [i]);
  });
  const enclosing = (tid: number, at: number): number => {
    const own = byThread.get(tid) ?? [];
    const k = lastAtOrBeforeBy(own, (i) => runs[i].startNs, at);
    return k >= 0 && at <= runs[own[k]].endNs ? own[k] : -1;
  };
  spans.forEach((span, i) => {
    span.schedGraph = enclosing(span.tid, span.startNs);
    if (span.schedGraph >= 0) runs[span.schedGraph].spans.push(i);
  });
  return copies.map((copy, i) => {
    const run = enclosing(copy.tid, copy.startNs);
    if (run >= 0) runs[run].copies.push(i);
    return run;
  });
}

function nodeSets(structures: Map<string, GraphNode[]>): Map<string, Set<number>> {
  return new Map([...structures].map(([signature, nodes]) => [signature, new Set(nodes.map((n) => n.tensor))]));
}

/** Among the splits of the copy's scheduler run (by start), the backend of the latest begun before the copy that computed src. */
function producerOf(copy: TensorCopy, run: BackendSpan[], nodes: Map<string, Set<number>>): number {
  if (!copy.src) return -1;
  for (let i = lastBefore(run, copy.startNs); i >= 0; i--) if (nodes.get(run[i].signature)?.has(copy.src)) return run[i].backend;
  return -1;
}

/** Among the splits of the copy's scheduler run, the backend of the next one that reads dst (else of the next one). */
function consumerOf(copy: TensorCopy, run: BackendSpan[], structures: Map<string, GraphNode[]>, leaves: Map<string, Map<number, GraphLeaf>>): number {
  const after = run.slice(lastBefore(run, copy.endNs) + 1);
  const reads = (span: BackendSpan): boolean =>
    leaves.get(span.signature)?.has(copy.dst) === true || structures.get(span.signature)?.some((n) => n.src.includes(copy.dst)) === true;
  return (after.find(reads) ?? after[0])?.backend ?? -1;
}

/** Index of the last span started at or before `ns`, -1 when none. */
function lastBefore(spans: BackendSpan[], ns: number): number {
  return lastAtOrBeforeBy(spans, (span) => span.startNs, ns);
}

/** Time and work of one backend over the run. */
export interface BackendTime {
  backend: number;
  name: string;
  pid: number;
  /** Graphs (splits) it computed, their nodes, and the time inside its graph_compute calls. */
  spans: number;
  nodes: number;
  computeNs: number;
}

/** Copies between a pair of backends (-1: host data). */
export interface CopyFlow {
  fromBackend: number;
  toBackend: number;
  count: number;
  bytes: number;
  ns: number;
}

export interface CopyVolume {
  count: number;
  bytes: number;
  ns: number;
  flows: CopyFlow[];
}

/** Time per backend, largest first. */
export function backendTimes(model: Pick<BackendModel, "backends" | "backendSpans">): BackendTime[] {
  const times = model.backends.map((b) => ({ backend: b.id, name: b.name, pid: b.pid, spans: 0, nodes: 0, computeNs: 0 }));
  for (const span of model.backendSpans) {
    const t = times[span.backend];
    t.spans++;
    t.nodes += Math.max(0, span.nNodes);
    t.computeNs += span.endNs - span.startNs;
  }
  return times.sort((a, b) => b.computeNs - a.computeNs);
}

/** Copy bytes and copy time, in all and per direction (largest first). */
export function copyVolume(copies: TensorCopy[]): CopyVolume {
  const flows = new Map<string, CopyFlow>();
  const total: CopyVolume = { count: 0, bytes: 0, ns: 0, flows: [] };
  for (const copy of copies) {
    const key = `${copy.fromBackend}>${copy.toBackend}`;
    let flow = flows.get(key);
    if (!flow) flows.set(key, (flow = { fromBackend: copy.fromBackend, toBackend: copy.toBackend, count: 0, bytes: 0, ns: 0 }));
    for (const sum of [flow, total]) {
      sum.count++;
      sum.bytes += copy.bytes;
      sum.ns += copy.endNs - copy.startNs;
    }
  }
  total.flows = [...flows.values()].sort((a, b) => b.bytes - a.bytes);
  return total;
}
