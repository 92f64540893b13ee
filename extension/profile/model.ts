/**
 * The profile model: what a decoded stream says about a run, in the terms of llama.cpp and ggml
 * (decode calls and tokens, graphs and their structure, op spans per thread, experts, samples,
 * scheduler events) and the per-op aggregates the views and the CLI show.
 *
 * Op spans stay in typed arrays (struct of arrays): a long run has millions of them.
 */
import {
  EXPERT_IDS_CAP,
  MAX_DIMS_CAP,
  MAX_SRC_CAP,
  OpFlags,
  recordFields,
  u64At,
  tensorName,
  type DecodedStream,
  type HeaderInfo,
  type RecordFields,
  type RecordTables,
  type Trailer,
} from "./stream";
import { buildBackends, type BackendInfo, type BackendSpan, type SchedGraphRun, type TensorCopy } from "./backends";

/** One llama_decode call. */
export interface TokenCall {
  tid: number;
  startNs: number;
  endNs: number;
  /** Batch size; -1 when the target's llama_batch layout is unknown. */
  nTokens: number;
  /** More than one token is prompt processing (prefill), one is generation (decode). */
  kind: "prefill" | "decode" | "unknown";
  /** llama_decode's return value; null when its end was not seen. */
  ret: number | null;
  /** The calling thread's software counters over the call (its DECODE_END); null when its end was not seen. */
  counters: SoftwareCounters | null;
}

export interface TokenSummary {
  calls: number;
  /** Tokens processed: the sum of the known batch sizes. */
  tokens: number;
  prefill: { calls: number; tokens: number; totalNs: number };
  decode: { calls: number; tokens: number; totalNs: number };
  /** Calls of unknown batch size. */
  unknownCalls: number;
  /**
   * Time to first token: from the start of the prompt's prefill calls (those right before the first
   * decode call, less than PROMPT_CALL_GAP_NS apart) to the end of the last; null without them.
   */
  ttftNs: number | null;
  /** Time per output token: from the prompt's end (else the first decode call's start) to the end of the last decode call, per decode call. */
  tpotNs: number | null;
}

/** One computation of a ggml graph. */
export interface GraphRun {
  tid: number;
  startNs: number;
  endNs: number;
  graph: number;
  /** The graph's structure signature, as 16 hex digits (key of Profile.structures). */
  signature: string;
  nNodes: number;
  /** Return status; null when its end was not seen. */
  status: number | null;
}

/** One node of a graph structure, from GRAPH_NODE records. */
export interface GraphNode {
  index: number;
  tensor: number;
  op: string;
  opValue: number;
  type: string;
  flags: number;
  opParams0: number;
  ne: number[];
  nb: number[];
  /** Source tensor addresses, trailing empty slots dropped (0 marks an empty slot). */
  src: number[];
  /** Type of each source ("" for an empty slot or a source the stream does not describe). */
  srcTypes: string[];
  /** Shape of each source ([] when not described). */
  srcNe: number[][];
  name: string;
}

/** A tensor nodes read but the graph does not compute (weights, inputs, KV cache), from GRAPH_LEAF records. */
export interface GraphLeaf {
  tensor: number;
  type: string;
  ne: number[];
  nb: number[];
  name: string;
}

/** What an op span is counted under: one op, or a fused group "FIRST+SECOND". */
export interface OpLabel {
  name: string;
  op: number;
  /** The span ran a fused group (the second op may be unknown, then `name` is the first op's). */
  fused: boolean;
}

/**
 * Op spans, grouped by thread (ascending id; Profile.threads says which spans are whose), in begin
 * order within a thread; row i of each array describes span i. The arrays may be views of longer
 * buffers (use byteOffset and byteLength).
 */
export interface OpSpans {
  count: number;
  startNs: Float64Array;
  endNs: Float64Array;
  /** Row of the span's OP_BEGIN in the decoded stream's opBegin table. */
  row: Uint32Array;
  /** Index in Profile.labels. */
  label: Uint32Array;
  /**
   * Row of the span's OP_END in the decoded stream's opEnd table; -1 when the span is unterminated:
   * no OP_END closed it, the next OP_BEGIN on its thread did.
   */
  endRow: Int32Array;
}

/** The spans of one thread: spans[first .. first + count). */
export interface ThreadLane {
  tid: number;
  first: number;
  count: number;
}

/** Per-op aggregate; times are summed over threads (one call = one thread running the op once). */
export interface OpStat {
  op: string;
  fused: boolean;
  calls: number;
  threads: number;
  total_ns: number;
  /** Share of all op time. */
  share: number;
  mean_ns: number;
  p50_ns: number;
  p99_ns: number;
  /** Software counters summed over the op's spans (from their OP_END records). */
  counters: SoftwareCounters;
}

/** A thread's software counters over spans: page faults, context switches, CPU time. */
export interface SoftwareCounters {
  minor_faults: number;
  major_faults: number;
  voluntary_switches: number;
  involuntary_switches: number;
  cpu_ns: number;
}

/** MUL_MAT_ID: the experts chosen for each token (ids[token * nUsed + k], at most 64 carried). */
export interface ExpertSelection {
  ts: number;
  tid: number;
  tensor: number;
  nUsed: number;
  nTokens: number;
  ids: number[];
}

/** How begin and end records paired up. */
export interface PairingCounts {
  /** Begins closed by their end. */
  paired: number;
  /** Begins closed by the next begin on the same thread. */
  unterminated: number;
  /** Ends with no open begin on their thread. */
  unmatchedEnds: number;
  /** Begins still open when the stream ended (left out). */
  openAtEnd: number;
  /** Begins left open when op tracing was switched off (a WINDOW off record), left out. */
  cutByWindow: number;
}

export interface Profile {
  header: HeaderInfo;
  version: { major: number; minor: number };
  trailer: Trailer | undefined;
  truncated: boolean;
  errors: string[];
  calls: TokenCall[];
  tokens: TokenSummary;
  graphs: GraphRun[];
  structures: Map<string, GraphNode[]>;
  /** The leaves of each graph structure (same keys as structures), by tensor address. */
  leaves: Map<string, Map<number, GraphLeaf>>;
  spans: OpSpans;
  threads: ThreadLane[];
  labels: OpLabel[];
  /** Sorted by total time, largest first. */
  ops: OpStat[];
  experts: ExpertSelection[];
  /** The OP_BEGIN / OP_END records that spans.row / spans.endRow point at (tensor, shape, type, counters). */
  opRecords: { begin: RecordTables["opBegin"]; end: RecordTables["opEnd"] };
  samples: RecordTables["sample"];
  sched: RecordTables["sched"];
  windows: RecordTables["window"];
  pairing: { calls: PairingCounts; graphs: PairingCounts; ops: PairingCounts };
  /** Events the helper could not record (ring buffer full); null without a trailer. */
  lostEvents: number | null;
  /** The ggml backends that computed graphs (stream minor 3; empty before): see backends.ts. */
  backends: BackendInfo[];
  /** Graphs (the scheduler's splits) computed per backend, sorted by start. */
  backendSpans: BackendSpan[];
  /** Whole graphs computed by the backend scheduler, split by split, sorted by start. */
  schedGraphs: SchedGraphRun[];
  /** Tensors copied into a backend's memory, sorted by start. */
  copies: TensorCopy[];
  /** The process of each thread that said so; other threads belong to header.target.pid. */
  threadPids: Map<number, number>;
}

export function opName(header: HeaderInfo, op: number): string {
  return header.ops[op] ?? `op#${op}`;
}

export function typeName(header: HeaderInfo, type: number): string {
  return header.types[type]?.name ?? `type#${type}`;
}

/** Nearest-rank percentile of ascending values (q in 0..1); 0 for none. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[rankOf(sorted.length, q)];
}

/** Index of the nearest-rank q-percentile among n ascending values. */
function rankOf(n: number, q: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
}

/**
 * Nearest-rank percentiles of unsorted values, for ascending qs: each value found by selection, not
 * a full sort (a sort of a typed array costs n log n compares of boxed numbers). Reorders `values`.
 */
export function percentilesOf(values: Float64Array | Uint32Array, qs: number[]): number[] {
  let from = 0;
  return qs.map((q) => {
    if (values.length === 0) return 0;
    const rank = rankOf(values.length, q);
    const value = selectRank(values, rank, Math.min(from, rank));
    from = rank;
    return value;
  });
}

/**
 * The value of rank k (0-based, ascending) among values[from..]: a quickselect with a median-of-3
 * pivot that leaves values[from..] partitioned around k. Ties on both sides of the pivot keep it
 * linear on repeated values; an input that defeats the pivot for `rounds` partitions falls back to
 * sorting what is left.
 */
export function selectRank(values: Float64Array | Uint32Array, k: number, from = 0, rounds = 2 * Math.ceil(Math.log2(values.length - from + 1)) + 8): number {
  let lo = from;
  let hi = values.length - 1;
  while (hi > lo) {
    if (rounds-- === 0) {
      values.subarray(lo, hi + 1).sort();
      return values[k];
    }
    const pivot = medianOf3(values[lo], values[(lo + hi) >>> 1], values[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i++] = values[j];
        values[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

function medianOf3(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

export function buildProfile(stream: DecodedStream): Profile {
  const t = stream.tables;
  const header = stream.header.info;
  const calls = pairByThread(t.decodeBegin, t.decodeEnd);
  const graphs = pairByThread(t.graphBegin, t.graphEnd);
  const nodes = new NodeIndex(stream);
  const unplaced = shapesFromGraphs(t, nodes);
  const ops = opSpans(t, new LabelTable(header, nodes), windowEnds(t));
  const { spans } = ops;
  const { threads } = ops;
  const leaves = graphLeaves(stream);
  const structures = graphStructures(stream, leaves);
  const tokenCalls = tokenCallsOf(t, calls);
  const offload = buildBackends(stream, structures, leaves, {
    backend: pairByThread(t.backendGraphBegin, t.backendGraphEnd),
    sched: pairByThread(t.schedGraphBegin, t.schedGraphEnd),
  });
  return {
    header,
    version: { major: stream.header.major, minor: stream.header.minor },
    trailer: stream.trailer,
    truncated: stream.truncated,
    errors: unplaced ? [...stream.errors, unplacedMessage(unplaced)] : stream.errors,
    calls: tokenCalls,
    tokens: summarizeTokens(tokenCalls),
    graphs: graphRuns(t, graphs),
    structures,
    leaves,
    spans,
    threads,
    labels: ops.labels,
    ops: opStats(spans, threads, ops.labels, ops.counters),
    experts: expertSelections(t),
    opRecords: { begin: t.opBegin, end: t.opEnd },
    samples: t.sample,
    sched: t.sched,
    windows: t.window,
    pairing: { calls: calls.counts, graphs: graphs.counts, ops: ops.counts },
    lostEvents: stream.trailer ? Object.values(stream.trailer.lost).reduce((a, b) => a + b, 0) : null,
    ...offload,
  };
}

// ---- pairing -----------------------------------------------------------------------------

interface Side {
  count: number;
  offset: Uint32Array;
  tid: Uint32Array;
  ts: Float64Array;
}

/** Begin rows with the end that closed each (row, or -1 when the next begin did), in closing order. */
interface Pairs {
  count: number;
  begin: Uint32Array;
  end: Int32Array;
  endNs: Float64Array;
  counts: PairingCounts;
}

/** Lanes scanned linearly before the map is asked: most runs have a few threads, and records alternate between them. */
const LINEAR_LANES = 8;

/** Numbers the thread ids of a stream 0, 1, 2, ... in order of first appearance. */
class LaneNumbers {
  readonly tids: number[] = [];
  private readonly index = new Map<number, number>();

  of(tid: number): number {
    const tids = this.tids;
    const scan = Math.min(tids.length, LINEAR_LANES);
    for (let lane = 0; lane < scan; lane++) if (tids[lane] === tid) return lane;
    const lane = this.index.get(tid);
    if (lane !== undefined) return lane;
    this.index.set(tid, tids.length);
    return tids.push(tid) - 1;
  }

  /** The lane of a thread already numbered, else -1. */
  find(tid: number): number {
    const tids = this.tids;
    const scan = Math.min(tids.length, LINEAR_LANES);
    for (let lane = 0; lane < scan; lane++) if (tids[lane] === tid) return lane;
    return this.index.get(tid) ?? -1;
  }
}

/** Times at which op tracing was switched off, ascending. */
function windowEnds(t: RecordTables): Float64Array {
  return t.window.ts.filter((_, i) => t.window.on[i] === 0).sort();
}

/** Whether a window ended in (from, to]. */
function windowEndedBetween(ends: Float64Array, from: number, to: number): boolean {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid] <= from) lo = mid + 1;
    else hi = mid;
  }
  return lo < ends.length && ends[lo] <= to;
}

/**
 * The pairing rules, one record at a time in stream order: each begin is paired with the next end
 * on its thread (lane); a begin followed by another begin on its thread is closed at the new begin
 * and counted unterminated, unless tracing was switched off in between (`windowOffs`): then the
 * open begin is dropped.
 */
class Pairing {
  readonly counts: PairingCounts = { paired: 0, unterminated: 0, unmatchedEnds: 0, openAtEnd: 0, cutByWindow: 0 };
  /** Per lane, the open begin's row (-1 when none) and time. */
  private readonly openRow: number[] = [];
  private readonly openTs: number[] = [];

  constructor(private readonly windowOffs: Float64Array) {}

  /** A begin: returns the row of the begin it closes, unterminated, or -1. */
  begin(lane: number, row: number, ts: number): number {
    this.reach(lane);
    const previous = this.openRow[lane];
    let closed = -1;
    if (previous >= 0 && windowEndedBetween(this.windowOffs, this.openTs[lane], ts)) this.counts.cutByWindow++;
    else if (previous >= 0) {
      closed = previous;
      this.counts.unterminated++;
    }
    this.openRow[lane] = row;
    this.openTs[lane] = ts;
    return closed;
  }

  /** An end: returns the row of the begin it closes, or -1 when none is open on its thread. */
  end(lane: number): number {
    this.reach(lane);
    const open = this.openRow[lane];
    if (open < 0) this.counts.unmatchedEnds++;
    else {
      this.openRow[lane] = -1;
      this.counts.paired++;
    }
    return open;
  }

  finish(): PairingCounts {
    this.counts.openAtEnd = this.openRow.filter((row) => row >= 0).length;
    return this.counts;
  }

  private reach(lane: number): void {
    while (this.openRow.length <= lane) {
      this.openRow.push(-1);
      this.openTs.push(0);
    }
  }
}

/** Pairs begins and ends (small tables: decode calls, graphs) by the rules of Pairing. */
function pairByThread(begins: Side, ends: Side): Pairs {
  const pairing = new Pairing(new Float64Array(0));
  const pairs: Pairs = {
    count: 0,
    begin: new Uint32Array(begins.count),
    end: new Int32Array(begins.count),
    endNs: new Float64Array(begins.count),
    counts: pairing.counts,
  };
  const close = (b: number, e: number, endNs: number): void => {
    pairs.begin[pairs.count] = b;
    pairs.end[pairs.count] = e;
    pairs.endNs[pairs.count++] = endNs;
  };
  const lanes = new LaneNumbers();
  for (let b = 0, e = 0; b < begins.count || e < ends.count; ) {
    if (e >= ends.count || (b < begins.count && begins.offset[b] < ends.offset[e])) {
      const closed = pairing.begin(lanes.of(begins.tid[b]), b, begins.ts[b]);
      if (closed >= 0) close(closed, -1, begins.ts[b]);
      b++;
    } else {
      const closed = pairing.end(lanes.of(ends.tid[e]));
      if (closed >= 0) close(closed, e, ends.ts[e]);
      e++;
    }
  }
  pairing.finish();
  return pairs;
}

// ---- tokens ------------------------------------------------------------------------------

function tokenCallsOf(t: RecordTables, pairs: Pairs): TokenCall[] {
  const calls: TokenCall[] = [];
  for (let i = 0; i < pairs.count; i++) {
    const b = pairs.begin[i];
    const e = pairs.end[i];
    const nTokens = t.decodeBegin.nTokens[b];
    calls.push({
      tid: t.decodeBegin.tid[b],
      startNs: t.decodeBegin.ts[b],
      endNs: pairs.endNs[i],
      nTokens,
      kind: nTokens > 1 ? "prefill" : nTokens === 1 ? "decode" : "unknown",
      ret: e < 0 ? null : t.decodeEnd.ret[e],
      counters: e < 0 ? null : decodeCounters(t.decodeEnd, e),
    });
  }
  return calls.sort((a, b) => a.startNs - b.startNs);
}

function decodeCounters(end: RecordTables["decodeEnd"], e: number): SoftwareCounters {
  return { minor_faults: end.minFlt[e], major_faults: end.majFlt[e], voluntary_switches: end.nvcsw[e], involuntary_switches: end.nivcsw[e], cpu_ns: end.cpuNs[e] };
}

/**
 * Prefill calls less than this apart process one prompt (a prompt longer than the batch is split
 * into several back-to-back calls). Wider gaps separate, e.g., llama.cpp's warmup call from the
 * prompt: the warmup is no part of the time to first token.
 */
export const PROMPT_CALL_GAP_NS = 1e6;

/** `calls` sorted by start. */
function summarizeTokens(calls: TokenCall[]): TokenSummary {
  const prefill = calls.filter((c) => c.kind === "prefill");
  const decode = calls.filter((c) => c.kind === "decode");
  const sum = (list: TokenCall[], f: (c: TokenCall) => number): number => list.reduce((n, c) => n + f(c), 0);
  const prompt = promptCalls(calls);
  const promptEnd = prompt.length ? prompt[prompt.length - 1].endNs : null;
  const decodeFrom = promptEnd ?? decode[0]?.startNs;
  return {
    calls: calls.length,
    tokens: sum(calls, (c) => Math.max(0, c.nTokens)),
    prefill: { calls: prefill.length, tokens: sum(prefill, (c) => c.nTokens), totalNs: sum(prefill, (c) => c.endNs - c.startNs) },
    decode: { calls: decode.length, tokens: decode.length, totalNs: sum(decode, (c) => c.endNs - c.startNs) },
    unknownCalls: calls.length - prefill.length - decode.length,
    ttftNs: promptEnd === null ? null : promptEnd - prompt[0].startNs,
    tpotNs: decode.length && decodeFrom !== undefined ? (decode[decode.length - 1].endNs - decodeFrom) / decode.length : null,
  };
}

/** The prefill calls of the prompt that precedes the first decode call (or ends the run). */
function promptCalls(calls: TokenCall[]): TokenCall[] {
  const firstDecode = calls.findIndex((c) => c.kind === "decode");
  let start = firstDecode < 0 ? calls.length : firstDecode;
  const end = start;
  while (start > 0 && calls[start - 1].kind === "prefill") {
    if (start < end && calls[start].startNs - calls[start - 1].endNs >= PROMPT_CALL_GAP_NS) break;
    start--;
  }
  return calls.slice(start, end);
}

// ---- graphs ------------------------------------------------------------------------------

function hex64(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

function graphRuns(t: RecordTables, pairs: Pairs): GraphRun[] {
  const runs: GraphRun[] = [];
  for (let i = 0; i < pairs.count; i++) {
    const b = pairs.begin[i];
    const e = pairs.end[i];
    runs.push({
      tid: t.graphBegin.tid[b],
      startNs: t.graphBegin.ts[b],
      endNs: pairs.endNs[i],
      graph: t.graphBegin.graph[b],
      signature: hex64(t.graphBegin.signature[b]),
      nNodes: t.graphBegin.nNodes[b],
      status: e < 0 ? null : t.graphEnd.status[e],
    });
  }
  return runs.sort((a, b) => a.startNs - b.startNs);
}

function graphStructures(stream: DecodedStream, leaves: Map<string, Map<number, GraphLeaf>>): Map<string, GraphNode[]> {
  const nodes = stream.tables.graphNode;
  const header = stream.header.info;
  const structures = new Map<string, GraphNode[]>();
  bySignature(nodes.signature, nodes.count, structures, () => [], (list, i) => list.push(graphNode(stream, header, i)));
  for (const [signature, list] of structures) {
    list.sort((a, b) => a.index - b.index);
    describeSources(list, leaves.get(signature));
  }
  return structures;
}

/**
 * Groups rows 0 .. count-1 by their graph signature (as hex64 keys of `groups`): a graph's records
 * come in a burst, so the key is made once per run of equal signatures, not once per row.
 */
function bySignature<G>(signature: BigUint64Array, count: number, groups: Map<string, G>, make: () => G, add: (group: G, row: number) => void): void {
  let previous: bigint | undefined;
  let group: G | undefined;
  for (let i = 0; i < count; i++) {
    const value = signature[i];
    if (group === undefined || value !== previous) {
      const key = hex64(value);
      group = groups.get(key);
      if (group === undefined) groups.set(key, (group = make()));
      previous = value;
    }
    add(group, i);
  }
}

/** Fills each node's srcTypes / srcNe from the nodes and leaves of its graph. */
function describeSources(nodes: GraphNode[], leaves: Map<number, GraphLeaf> | undefined): void {
  const byTensor = new Map<number, GraphNode>();
  for (const node of nodes) byTensor.set(node.tensor, node);
  for (const node of nodes) {
    const n = node.src.length;
    const [types, shapes] = [new Array<string>(n), new Array<number[]>(n)];
    for (let k = 0; k < n; k++) {
      const address = node.src[k];
      const described = address === 0 ? undefined : (byTensor.get(address) ?? leaves?.get(address));
      types[k] = described?.type ?? "";
      shapes[k] = described?.ne ?? [];
    }
    node.srcTypes = types;
    node.srcNe = shapes;
  }
}

function graphLeaves(stream: DecodedStream): Map<string, Map<number, GraphLeaf>> {
  const t = stream.tables.graphLeaf;
  const header = stream.header.info;
  const leaves = new Map<string, Map<number, GraphLeaf>>();
  bySignature(t.signature, t.count, leaves, () => new Map<number, GraphLeaf>(), (byTensor, i) =>
    byTensor.set(t.tensor[i], {
      tensor: t.tensor[i],
      type: typeName(header, t.type[i]),
      ne: rowOf(t.ne, i, MAX_DIMS_CAP),
      nb: rowOf(t.nb, i, MAX_DIMS_CAP),
      name: tensorName(stream, "graphLeaf", i),
    }),
  );
  return leaves;
}

/** The first `used` values of row i of a flattened array column of n per row, in an array of exactly that size. */
function rowOf(column: Float64Array, i: number, n: number, used = n): number[] {
  const row = new Array<number>(used);
  for (let j = 0, k = i * n; j < used; j++, k++) row[j] = column[k];
  return row;
}

function graphNode(stream: DecodedStream, header: HeaderInfo, i: number): GraphNode {
  const n = stream.tables.graphNode;
  let used = MAX_SRC_CAP;
  while (used > 0 && n.src[i * MAX_SRC_CAP + used - 1] === 0) used--;
  const src = rowOf(n.src, i, MAX_SRC_CAP, used);
  return {
    index: n.index[i],
    tensor: n.tensor[i],
    op: opName(header, n.op[i]),
    opValue: n.op[i],
    type: typeName(header, n.type[i]),
    flags: n.flags[i],
    opParams0: n.opParams0[i],
    ne: rowOf(n.ne, i, MAX_DIMS_CAP),
    nb: rowOf(n.nb, i, MAX_DIMS_CAP),
    src,
    srcTypes: [],
    srcNe: [],
    name: tensorName(stream, "graphNode", i),
  };
}

/** Finds the op of a tensor: in the graph computing at a given time, else in any graph seen. */
class NodeIndex {
  /** Node row of each tensor, per graph structure (numbered in order of their first GRAPH_NODE). */
  private readonly byStructure: Map<number, number>[] = [];
  private readonly anyGraph = new Map<number, number>();
  private readonly graphStarts: Float64Array;
  /** Structure number of each graph run, in order of start; -1 when its structure was not recorded. */
  private readonly graphStructures: Int32Array;
  /** The graph run found last: the spans of a thread come in time order, so it often holds the next one too. */
  private last = 0;

  constructor(private readonly stream: DecodedStream) {
    const nodes = stream.tables.graphNode;
    const numbers = new Map<bigint, number>();
    for (let i = 0; i < nodes.count; i++) {
      let structure = numbers.get(nodes.signature[i]);
      if (structure === undefined) {
        structure = this.byStructure.push(new Map()) - 1;
        numbers.set(nodes.signature[i], structure);
      }
      this.byStructure[structure].set(nodes.tensor[i], i);
      this.anyGraph.set(nodes.tensor[i], i);
    }
    const begins = stream.tables.graphBegin;
    const order = Array.from({ length: begins.count }, (_, i) => i).sort((a, b) => begins.ts[a] - begins.ts[b]);
    this.graphStarts = Float64Array.from(order, (i) => begins.ts[i]);
    this.graphStructures = Int32Array.from(order, (i) => numbers.get(begins.signature[i]) ?? -1);
  }

  /** The GRAPH_NODE row of `tensor` in the graph running at time `ts` (else in any graph), or undefined. */
  rowOf(tensor: number, ts: number): number | undefined {
    const graph = this.graphAt(ts);
    const structure = graph < 0 ? -1 : this.graphStructures[graph];
    return (structure < 0 ? undefined : this.byStructure[structure].get(tensor)) ?? this.anyGraph.get(tensor);
  }

  /** The op value of `tensor` at time `ts`, or undefined. */
  opOf(tensor: number, ts: number): number | undefined {
    const row = this.rowOf(tensor, ts);
    return row === undefined ? undefined : this.stream.tables.graphNode.op[row];
  }

  /** Index of the last graph run started at or before `ts`, -1 when none. */
  private graphAt(ts: number): number {
    const starts = this.graphStarts;
    const last = this.last;
    if (last < starts.length && starts[last] <= ts && (last + 1 === starts.length || starts[last + 1] > ts)) return last;
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= ts) lo = mid + 1;
      else hi = mid;
    }
    this.last = Math.max(0, lo - 1);
    return lo - 1;
  }
}

// ---- op spans ----------------------------------------------------------------------------

/**
 * Gives the op begins written without their op, type and shape (OpFlags.ShapeInGraph: the probe
 * spares reading the tensor) those of their tensor's GRAPH_NODE in the graph running, in the
 * opBegin table's columns. Returns how many no graph structure describes (left op -1).
 */
function shapesFromGraphs(t: RecordTables, nodes: NodeIndex): number {
  const begins = t.opBegin;
  const f = recordFields(begins, ["flags", "tensor", "ts"] as const);
  const [words, position, flags, tensor, ts] = [f.words, f.position, f.at.flags, f.at.tensor, f.at.ts];
  // imported bindings read once: in the loop each would be a property read of the module
  const [shapeInGraph, dims] = [OpFlags.ShapeInGraph, MAX_DIMS_CAP];
  let first = 0;
  while (first < begins.count && (words[(position[first] >>> 2) + flags] & shapeInGraph) === 0) first++;
  if (first === begins.count) return 0;
  const [op, type, ne] = [begins.op, begins.type, begins.ne];
  const [nodeOp, nodeType, nodeNe] = [t.graphNode.op, t.graphNode.type, t.graphNode.ne];
  let unplaced = 0;
  for (let i = first; i < begins.count; i++) {
    const w = position[i] >>> 2;
    if ((words[w + flags] & shapeInGraph) === 0) continue;
    const row = nodes.rowOf(words[w + tensor] + words[w + tensor + 1] * 4294967296, words[w + ts] + words[w + ts + 1] * 4294967296);
    if (row === undefined) {
      unplaced++;
      continue;
    }
    op[i] = nodeOp[row];
    type[i] = nodeType[row];
    for (let d = 0; d < dims; d++) ne[i * dims + d] = nodeNe[row * dims + d];
  }
  return unplaced;
}

function unplacedMessage(unplaced: number): string {
  return (
    `${unplaced} op span(s) ran on tensors that no recorded graph structure describes: their op, type and shape are unknown ` +
    "(shown as op#-1); record with the helper's --live-shapes to read them from the tensors as the ops begin"
  );
}

/** Interns the labels spans are counted under. */
class LabelTable {
  readonly list: OpLabel[] = [];
  private readonly index = new Map<string, number>();
  /** Labels of plain (not fused) ops, by op value (-1: not yet interned): the common case, without a string key. */
  private plain = new Int32Array(64).fill(-1);
  /** Labels of fused groups, by first op value, then second op value ("" when unknown). */
  private readonly fused = new Map<number, Map<number | "", number>>();

  constructor(
    private readonly header: HeaderInfo,
    private readonly nodes: NodeIndex,
  ) {}

  /** Label of an OP_BEGIN: its op, or "FIRST+SECOND" for a fused group whose second op is known. */
  of(op: number, flags: number, tensor2: number, ts: number): number {
    const plain = (flags & OpFlags.Fused) === 0 && op >= 0 && op < this.plain.length ? this.plain[op] : -1;
    return plain >= 0 ? plain : this.internOf(op, flags, tensor2, ts);
  }

  private internOf(op: number, flags: number, tensor2: number, ts: number): number {
    if ((flags & OpFlags.Fused) === 0) return this.internPlain(op);
    const second = (tensor2 !== 0 ? this.nodes.opOf(tensor2, ts) : undefined) ?? "";
    let bySecond = this.fused.get(op);
    if (bySecond === undefined) this.fused.set(op, (bySecond = new Map()));
    let label = bySecond.get(second);
    if (label === undefined) bySecond.set(second, (label = this.fusedLabel(op, second)));
    return label;
  }

  private internPlain(op: number): number {
    const label = this.intern(opName(this.header, op), op, false);
    if (op >= 0 && op < 1 << 16) {
      if (op >= this.plain.length) this.plain = Int32Array.from({ length: 2 * op + 1 }, (_, k) => (k < this.plain.length ? this.plain[k] : -1));
      this.plain[op] = label;
    }
    return label;
  }

  private fusedLabel(op: number, second: number | ""): number {
    const first = opName(this.header, op);
    return this.intern(second === "" ? first : `${first}+${opName(this.header, second)}`, op, true);
  }

  private intern(name: string, op: number, fused: boolean): number {
    const key = `${name}\0${fused}`;
    let label = this.index.get(key);
    if (label === undefined) {
      label = this.list.push({ name, op, fused }) - 1;
      this.index.set(key, label);
    }
    return label;
  }
}

/** Op spans with what was counted while pairing them. */
interface OpScan {
  spans: OpSpans;
  /** Where each thread's spans are, in order of thread id (threads without spans left out). */
  threads: ThreadLane[];
  counts: PairingCounts;
  /** The labels, numbered in order of first use by the spans. */
  labels: OpLabel[];
  /** Software counters summed per label. */
  counters: SoftwareCounters[];
}

/** The fields of OP_BEGIN and OP_END records the walk reads. */
const BEGIN_FIELDS = ["ts", "tid", "flags", "tensor2"] as const;
const END_FIELDS = ["ts", "tid", "minFlt", "majFlt", "nvcsw", "nivcsw", "cpuNs"] as const;

/** OP_BEGIN records per thread lane (an upper bound of its spans). */
function beginsPerLane(begins: RecordFields<"tid">, count: number, lanes: LaneNumbers): number[] {
  const counts: number[] = [];
  const { words, position } = begins;
  const tid = begins.at.tid;
  for (let i = 0; i < count; i++) {
    const lane = lanes.of(words[(position[i] >>> 2) + tid]);
    while (counts.length <= lane) counts.push(0);
    counts[lane]++;
  }
  return counts;
}

function newSpans(count: number): OpSpans {
  return {
    count,
    startNs: new Float64Array(count),
    endNs: new Float64Array(count),
    row: new Uint32Array(count),
    label: new Uint32Array(count),
    endRow: new Int32Array(count),
  };
}

/** Lanes in order of thread id. */
function lanesByTid(tids: number[]): number[] {
  return tids.map((_, lane) => lane).sort((a, b) => tids[a] - tids[b]);
}

/** Software counters summed per label, five numbers per label in the order of SoftwareCounters. */
class CounterSums {
  private sums = new Float64Array(5 * 64);

  /** Adds the counters of the OP_END record at word w of `ends`. */
  add(label: number, ends: RecordFields<(typeof END_FIELDS)[number]>, w: number): void {
    const at = 5 * label;
    if (at + 5 > this.sums.length) this.grow(at + 5);
    const [sums, words, f] = [this.sums, ends.words, ends.at];
    sums[at] += words[w + f.minFlt];
    sums[at + 1] += words[w + f.majFlt];
    sums[at + 2] += words[w + f.nvcsw];
    sums[at + 3] += words[w + f.nivcsw];
    sums[at + 4] += u64At(words, w + f.cpuNs);
  }

  of(label: number): SoftwareCounters {
    const at = 5 * label;
    const s = at + 5 <= this.sums.length ? this.sums : new Float64Array(at + 5);
    return { minor_faults: s[at], major_faults: s[at + 1], voluntary_switches: s[at + 2], involuntary_switches: s[at + 3], cpu_ns: s[at + 4] };
  }

  private grow(size: number): void {
    const sums = new Float64Array(Math.max(size, 2 * this.sums.length));
    sums.set(this.sums);
    this.sums = sums;
  }
}

/**
 * The pairing of op begins and ends (see opSpans), its loop alone in a method of its own: the JIT
 * compiles it small, without the code before and after it (which had not run yet when the loop got
 * hot, and cost recompilations when it did).
 */
class OpPairing {
  readonly sums = new CounterSums();
  readonly counts: PairingCounts = { paired: 0, unterminated: 0, unmatchedEnds: 0, openAtEnd: 0, cutByWindow: 0 };
  /** Per lane, the open begin's row (-1 when none), time and label. */
  readonly openRow: Int32Array;
  private readonly openNs: Float64Array;
  private readonly openLabel: Uint32Array;

  constructor(
    private readonly begins: RecordFields<(typeof BEGIN_FIELDS)[number]>,
    private readonly beginOffset: Uint32Array,
    /** The op of each begin (its column: shapesFromGraphs may have filled it in). */
    private readonly beginOp: Int32Array,
    private readonly ends: RecordFields<(typeof END_FIELDS)[number]>,
    private readonly endOffset: Uint32Array,
    private readonly lanes: LaneNumbers,
    private readonly labels: LabelTable,
    private readonly windowOffs: Float64Array,
    private readonly spans: OpSpans,
    /** Per lane, where its next span goes. */
    private readonly next: Uint32Array,
  ) {
    this.openRow = new Int32Array(lanes.tids.length).fill(-1);
    this.openNs = new Float64Array(lanes.tids.length);
    this.openLabel = new Uint32Array(lanes.tids.length);
  }

  walk(): void {
    const { begins, ends, lanes, labels, counts, sums, openRow, openNs, openLabel } = this;
    const [bWords, bPosition, b, bOffset, nBegins, bOp] = [begins.words, begins.position, begins.at, this.beginOffset, this.beginOffset.length, this.beginOp];
    const [eWords, ePosition, e, eOffset, nEnds] = [ends.words, ends.position, ends.at, this.endOffset, this.endOffset.length];
    for (let i = 0, j = 0; i < nBegins || j < nEnds; ) {
      if (j >= nEnds || (i < nBegins && bOffset[i] < eOffset[j])) {
        const w = bPosition[i] >>> 2;
        const lane = lanes.find(bWords[w + b.tid]);
        const ts = u64At(bWords, w + b.ts);
        const previous = openRow[lane];
        if (previous >= 0) this.closeByBegin(lane, previous, ts);
        openRow[lane] = i;
        openNs[lane] = ts;
        openLabel[lane] = labels.of(bOp[i], bWords[w + b.flags], u64At(bWords, w + b.tensor2), ts);
        i++;
      } else {
        const w = ePosition[j] >>> 2;
        const lane = lanes.find(eWords[w + e.tid]);
        const open = lane < 0 ? -1 : openRow[lane];
        if (open < 0) counts.unmatchedEnds++;
        else {
          openRow[lane] = -1;
          counts.paired++;
          this.write(lane, open, u64At(eWords, w + e.ts), j);
          sums.add(openLabel[lane], ends, w);
        }
        j++;
      }
    }
  }

  /**
   * A begin came while its thread had an op open: the open one ends here, unterminated, unless op
   * tracing was switched off in between (then it is left out). Apart from the loop: it is rare,
   * and code the loop has not run yet when the JIT compiles it costs a recompilation when it does.
   */
  private closeByBegin(lane: number, previous: number, ts: number): void {
    if (windowEndedBetween(this.windowOffs, this.openNs[lane], ts)) this.counts.cutByWindow++;
    else {
      this.counts.unterminated++;
      this.write(lane, previous, ts, -1);
    }
  }

  private write(lane: number, row: number, endNs: number, endRow: number): void {
    const s = this.next[lane]++;
    const spans = this.spans;
    spans.startNs[s] = this.openNs[lane];
    spans.endNs[s] = endNs;
    spans.row[s] = row;
    spans.label[s] = this.openLabel[lane];
    spans.endRow[s] = endRow;
  }
}

/**
 * One walk over the OP_BEGIN and OP_END records in stream order (OpPairing), reading the fields it
 * needs straight from the records (no column of the whole tables is made): pairs them by the rules
 * of Pairing, labels each span when it begins, and writes it straight to its thread's place (spans
 * are grouped by thread id, in begin order within a thread, and a lane's pairs close in the order
 * they began); each end's counters are added to its span's label. The rules are spelled out on
 * typed arrays rather than called on a Pairing: the loop runs once per op record, where each call
 * and property read counts.
 */
function opSpans(t: RecordTables, labels: LabelTable, windowOffs: Float64Array): OpScan {
  const nBegins = t.opBegin.count;
  const begins = recordFields(t.opBegin, BEGIN_FIELDS);
  const ends = recordFields(t.opEnd, END_FIELDS);
  const lanes = new LaneNumbers();
  const capacity = beginsPerLane(begins, nBegins, lanes);
  const { tids } = lanes;
  const order = lanesByTid(tids);
  const start = new Uint32Array(tids.length);
  order.reduce((at, lane) => ((start[lane] = at), at + capacity[lane]), 0);
  const next = start.slice();
  const spans = newSpans(nBegins);
  const pairing = new OpPairing(begins, t.opBegin.offset, t.opBegin.op, ends, t.opEnd.offset, lanes, labels, windowOffs, spans, next);
  pairing.walk();
  const { counts, sums } = pairing;
  counts.openAtEnd = pairing.openRow.filter((row) => row >= 0).length;
  const threads = packLanes(spans, order.map((lane) => ({ tid: tids[lane], first: start[lane], count: next[lane] - start[lane] })));
  const count = threads.reduce((n, lane) => n + lane.count, 0);
  const numbered = numberLabels(spans.label.subarray(0, count), labels.list);
  return {
    spans: count === spans.count ? spans : trimmed(spans, count),
    threads,
    counts,
    labels: numbered.labels,
    counters: numbered.old.map((label) => sums.of(label)),
  };
}

/**
 * Moves each lane's spans down to follow the previous lane's, when some begins made no span
 * (dropped at a window's end, or still open at the end); returns the lanes that have spans, where
 * they are now.
 */
function packLanes(spans: OpSpans, lanes: ThreadLane[]): ThreadLane[] {
  let at = 0;
  for (const lane of lanes) {
    if (lane.first !== at) {
      for (const column of [spans.startNs, spans.endNs, spans.row, spans.label, spans.endRow]) column.copyWithin(at, lane.first, lane.first + lane.count);
      lane.first = at;
    }
    at += lane.count;
  }
  return lanes.filter((lane) => lane.count > 0);
}

/** The first `count` spans, as views of the same arrays. */
function trimmed(spans: OpSpans, count: number): OpSpans {
  return {
    count,
    startNs: spans.startNs.subarray(0, count),
    endNs: spans.endNs.subarray(0, count),
    row: spans.row.subarray(0, count),
    label: spans.label.subarray(0, count),
    endRow: spans.endRow.subarray(0, count),
  };
}

/**
 * Renumbers the labels in order of first use by the spans (as a walk in span order would have
 * interned them); labels no span uses are left out. `old[n]` is the label numbered n before.
 */
function numberLabels(label: Uint32Array, list: OpLabel[]): { labels: OpLabel[]; old: number[] } {
  const renumbered = new Int32Array(list.length).fill(-1);
  const old: number[] = [];
  for (let s = 0; s < label.length; s++) {
    let n = renumbered[label[s]];
    if (n < 0) n = renumbered[label[s]] = old.push(label[s]) - 1;
    label[s] = n;
  }
  return { labels: old.map((l) => list[l]), old };
}

/** The lane (of `lanes`, in span order) that holds span s, undefined when none does. */
export function laneOf(lanes: ThreadLane[], s: number): ThreadLane | undefined {
  let [lo, hi] = [0, lanes.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lanes[mid].first <= s) lo = mid + 1;
    else hi = mid;
  }
  const lane = lanes[lo - 1];
  return lane && s < lane.first + lane.count ? lane : undefined;
}

// ---- aggregates --------------------------------------------------------------------------

function opStats(spans: OpSpans, lanes: ThreadLane[], labels: OpLabel[], counters: SoftwareCounters[]): OpStat[] {
  const { durations, sums } = durationsByLabel(spans, labels.length);
  const threads = threadsByLabel(spans, lanes, labels.length);
  let total = 0;
  for (const sum of sums) total += sum;
  const stats = labels.map((label, i) => {
    const calls = durations[i].length;
    const [p50, p99] = percentilesOf(durations[i], [0.5, 0.99]);
    return {
      op: label.name,
      fused: label.fused,
      calls,
      threads: threads[i],
      total_ns: sums[i],
      share: total > 0 ? sums[i] / total : 0,
      mean_ns: calls ? sums[i] / calls : 0,
      p50_ns: p50,
      p99_ns: p99,
      counters: counters[i],
    };
  });
  return stats.sort((a, b) => b.total_ns - a.total_ns || a.op.localeCompare(b.op));
}

/** Durations of spans: whole nanoseconds below 2^32 (4.3 s) in half the memory, else any number. */
type Durations = Uint32Array | Float64Array;

/**
 * Memory the durations are ranked in, kept from one build to the next: fresh memory costs more
 * than ranking in it (first touches of its pages) where page faults are slow, as in virtual machines.
 * Buffers above KEPT_SCRATCH_BYTES are not kept.
 */
const scratch = { u32: new Uint32Array(0), f64: new Float64Array(0) };
const KEPT_SCRATCH_BYTES = 16 << 20;

function scratchOf(kind: "u32" | "f64", length: number): Durations {
  if (scratch[kind].length >= length) return scratch[kind].subarray(0, length);
  const buffer = kind === "u32" ? new Uint32Array(length) : new Float64Array(length);
  if (buffer.byteLength <= KEPT_SCRATCH_BYTES) (scratch as Record<typeof kind, Durations>)[kind] = buffer;
  return buffer;
}

/** Each label's span durations (in span order, in scratch memory: valid until the next build) and their sum. */
function durationsByLabel(spans: OpSpans, nLabels: number): { durations: Durations[]; sums: Float64Array } {
  const counts = new Uint32Array(nLabels);
  let fitU32 = true;
  for (let s = 0; s < spans.count; s++) {
    counts[spans.label[s]]++;
    const duration = spans.endNs[s] - spans.startNs[s];
    if (!(duration >= 0 && duration <= 0xffffffff && Number.isInteger(duration))) fitU32 = false;
  }
  const all = scratchOf(fitU32 ? "u32" : "f64", spans.count);
  let at = 0;
  const durations = Array.from(counts, (n) => all.subarray(at, (at += n)));
  const sums = new Float64Array(nLabels);
  const filled = new Uint32Array(nLabels);
  for (let s = 0; s < spans.count; s++) {
    const label = spans.label[s];
    const duration = spans.endNs[s] - spans.startNs[s];
    durations[label][filled[label]++] = duration;
    sums[label] += duration;
  }
  return { durations, sums };
}

function threadsByLabel(spans: OpSpans, lanes: ThreadLane[], nLabels: number): Uint32Array {
  const threads = new Uint32Array(nLabels);
  for (const lane of lanes) {
    const seen = new Uint8Array(nLabels);
    for (let s = lane.first; s < lane.first + lane.count; s++) seen[spans.label[s]] = 1;
    seen.forEach((v, label) => (threads[label] += v));
  }
  return threads;
}

// ---- experts -----------------------------------------------------------------------------

function expertSelections(t: RecordTables): ExpertSelection[] {
  const e = t.expertIds;
  return Array.from({ length: e.count }, (_, i) => ({
    ts: e.ts[i],
    tid: e.tid[i],
    tensor: e.tensor[i],
    nUsed: e.nUsed[i],
    nTokens: e.nTokens[i],
    ids: Array.from(e.ids.subarray(i * EXPERT_IDS_CAP, i * EXPERT_IDS_CAP + Math.min(e.idCount[i], EXPERT_IDS_CAP))),
  }));
}
