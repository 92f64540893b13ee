/**
 * The one message protocol between the extension host (extension/views/panels.ts) and the webview
 * panels (webview/main.ts). Bulk data travels as typed arrays, one entry per span / interval, never
 * as one object per span. Every string here may come from the profiled target (tensor names, paths):
 * the webview draws them as text only.
 */

export type PanelKind = "timeline" | "roofline" | "graph" | "experts" | "counters" | "offload";

export const PANEL_KINDS: readonly PanelKind[] = ["timeline", "roofline", "graph", "experts", "counters", "offload"];

/** Intervals on the time axis, in ns since TimelineData.originNs. */
export interface Intervals {
  start: Float64Array;
  end: Float64Array;
}

/** Thread states from the scheduler events: while running, waiting to run, asleep. */
export enum ThreadState {
  Running = 0,
  Runnable = 1,
  Sleeping = 2,
}

export interface ThreadStates extends Intervals {
  tid: number;
  state: Uint8Array;
}

/** Graph nodes the spans point at (one row per distinct graph node of the profile). */
export interface NodeTable {
  name: string[];
  /** "256x9x1x1" */
  shape: string[];
  type: string[];
}

/** Op spans grouped by thread lane (lanes[i] covers rows first .. first+count), sorted by start in a lane. */
export interface SpanTable extends Intervals {
  /** Index in TimelineData.labels. */
  label: Uint16Array;
  /** Row in TimelineData.nodes, -1 when the span's tensor is no known graph node. */
  node: Int32Array;
  /** Software counters over the span (0 when no OP_END closed it). */
  cpuNs: Float64Array;
  faults: Uint32Array;
  switches: Uint32Array;
  /** 1 when the next op's begin closed the span (its end was not seen). */
  unterminated: Uint8Array;
}

export interface Lane {
  tid: number;
  first: number;
  count: number;
}

export interface TimelineData {
  title: string;
  live: boolean;
  /** Absolute time (ns, the profile's clock) of time 0. */
  originNs: number;
  /** End of the recorded time range, relative to originNs. */
  durationNs: number;
  labels: string[];
  nodes: NodeTable;
  lanes: Lane[];
  spans: SpanTable;
  /** llama_decode calls; nTokens -1 when unknown. */
  calls: Intervals & { nTokens: Int32Array };
  graphs: Intervals & { nNodes: Int32Array };
  /** The graphs each ggml backend computed (empty before stream 1.3). */
  splits: BackendSplits;
  states: ThreadStates[];
  /** Periods with op tracing off (default mode windows): no spans exist there. */
  gaps: Intervals;
  /** Events the helper lost (null: no trailer, the run did not end cleanly). */
  lostEvents: number | null;
  truncated: boolean;
  mode: string;
}

export interface GraphNodeData {
  index: number;
  name: string;
  op: string;
  type: string;
  shape: string;
  /** Indices (in this graph) of the nodes it reads. */
  inputs: number[];
  /** Layer number read from the name (`blk.N` / `name-N`), -1 outside layers. */
  layer: number;
  /** Time spent in spans of this node over the whole run, summed over threads (ns). */
  totalNs: number;
  calls: number;
  meanNs: number;
  maxNs: number;
}

export interface GraphData {
  title: string;
  /** Signature of the graph shown, and every graph structure of the profile with its run count. */
  signature: string;
  structures: { signature: string; nodes: number; runs: number }[];
  nodes: GraphNodeData[];
}

export interface ExpertLayer {
  layer: number;
  /** The MUL_MAT_ID tensor's name. */
  name: string;
  /** Selections per expert over the run. */
  counts: number[];
  /** max / mean of counts (1 = perfectly balanced). */
  imbalance: number;
}

export interface ExpertsData {
  title: string;
  nExperts: number;
  layers: ExpertLayer[];
  /** Why nothing is shown (a dense model, no op tracing), when layers is empty. */
  explanation: string | null;
  /** Selections cut at the stream's cap of expert ids per record. */
  truncatedRecords: number;
}

export interface RooflineCeiling {
  name: string;
  /** GB/s for a memory level, GFLOP/s for compute. */
  value: number;
  kind: "memory" | "compute";
}

export interface RooflinePoint {
  label: string;
  op: string;
  /** FLOP per byte. */
  intensity: number;
  gflops: number;
  gbps: number;
  totalNs: number;
  bound: string;
}

/** The llama_decode calls a roofline point set covers: all, prompt processing (batch > 1) or generation (batch 1). */
export type RooflinePhase = "all" | "prefill" | "decode";

export const ROOFLINE_PHASES: readonly RooflinePhase[] = ["all", "prefill", "decode"];

export interface RooflinePhasePoints {
  points: RooflinePoint[];
  /** llama_decode calls of the phase (all calls for "all"). */
  calls: number;
  /** Why the phase has no points (no such calls, no op spans in them), else null. */
  empty: string | null;
}

export interface RooflineData {
  title: string;
  ceilings: RooflineCeiling[];
  /** The op classes of the whole run, and of the spans that began inside prefill or decode calls. */
  phases: Record<RooflinePhase, RooflinePhasePoints>;
  /** Why points or ceilings are missing. */
  notes: string[];
}

/** One software counter per llama_decode call (rows in CountersData.calls order). */
export interface CounterSeries {
  /** The header's name for it: "cpu_ns", "min_flt", ... */
  key: string;
  name: string;
  /** "ns" for a time, "" for a count. */
  unit: "" | "ns";
  /** The calling thread's count over the call (NaN where the call's end was not seen). */
  call: Float64Array;
  /** Summed over the op spans of every thread that began inside the call. */
  ops: Float64Array;
}

export interface CountersData {
  title: string;
  /** llama_decode calls in time order: start (ns since the first call's start) and batch size (-1 unknown). */
  calls: { start: Float64Array; nTokens: Int32Array };
  series: CounterSeries[];
  /** One line for each kind of counter the profile lacks, saying why. */
  lacking: string[];
  /** Per op (Profile.ops order): its spans' counters summed, in `series` order. */
  ops: { op: string; calls: number; values: number[] }[];
  /** Op spans with counters that began outside every llama_decode call (not in the per-call sums). */
  spansOutsideCalls: number;
}

/** The graphs (the scheduler's splits) each ggml backend computed, on the time axis, sorted by start. */
export interface BackendSplits extends Intervals {
  /** Backend names; `backend` indexes them. */
  names: string[];
  backend: Uint16Array;
  nNodes: Int32Array;
  /** "first node … last node" of the split ("" when its nodes were not recorded). */
  label: string[];
}

export interface OffloadBackend {
  name: string;
  pid: number;
  splits: number;
  nodes: number;
  /** Time inside its graph_compute calls, and its share of all backends' time. */
  computeNs: number;
  share: number;
}

export interface OffloadData {
  title: string;
  /** Time 0 is the first split or copy; the range ends with the last. */
  durationNs: number;
  splits: BackendSplits;
  /** Time per backend, largest first. */
  backends: OffloadBackend[];
  /** Tensors copied into a backend's memory: from the backend that computed the source ("host memory" for
   * weights and inputs) to the backend whose split read it next. */
  copies: Intervals & { bytes: Float64Array; from: string[]; to: string[]; name: string[]; kind: string[] };
  /** Copies per direction, most bytes first. */
  flows: { from: string; to: string; count: number; bytes: number; ns: number }[];
  /** Said instead of the offload picture when there was one backend (named) or none. */
  summary: string | null;
  /** Per offloaded op and shape (extension/profile/offload.ts): each backend that ran it, fastest per call first. */
  breakEven: OffloadShape[];
}

export interface OffloadShape {
  op: string;
  /** ne[1] of the result: for MUL_MAT the rows of src1. */
  batch: number;
  shape: string;
  /** Time per call including the copies of its inputs; measured: from op spans, else the split's time by FLOPs. */
  backends: { name: string; calls: number; perCallNs: number; copyBytes: number; measured: boolean }[];
}

/** Host -> webview. */
export type HostMessage =
  | { type: "timeline"; data: TimelineData }
  | { type: "graph"; data: GraphData }
  | { type: "experts"; data: ExpertsData }
  | { type: "roofline"; data: RooflineData }
  | { type: "counters"; data: CountersData }
  | { type: "offload"; data: OffloadData }
  /** Nothing to show, and why (no profile selected, ...). */
  | { type: "empty"; message: string }
  /** Timeline: show only this op (from a CodeLens or the roofline). */
  | { type: "filterOp"; op: string };

/** Webview -> host. */
export type WebviewMessage =
  | { type: "ready" }
  /** Open the source that computes this op (a label such as MUL_MAT or RMS_NORM+MUL). */
  | { type: "revealOp"; op: string }
  /** Graph panel: show another graph structure. */
  | { type: "selectGraph"; signature: string }
  /** Open the timeline filtered to this op. */
  | { type: "openTimeline"; op: string };

export function isWebviewMessage(value: unknown): value is WebviewMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case "ready":
      return true;
    case "revealOp":
    case "openTimeline":
      return typeof m.op === "string";
    case "selectGraph":
      return typeof m.signature === "string";
    default:
      return false;
  }
}
