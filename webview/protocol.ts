/**
 * The one message protocol between the extension host (extension/views/panels.ts) and the webview
 * panels (webview/main.ts). Bulk data travels as typed arrays, one entry per span / interval, never
 * as one object per span. Every string here may come from the profiled target (tensor names, paths):
 * the webview draws them as text only.
 */

export type PanelKind = "timeline" | "roofline" | "graph" | "experts";

export const PANEL_KINDS: readonly PanelKind[] = ["timeline", "roofline", "graph", "experts"];

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

export interface RooflineData {
  title: string;
  ceilings: RooflineCeiling[];
  points: RooflinePoint[];
  /** Why points or ceilings are missing. */
  notes: string[];
}

/** Host -> webview. */
export type HostMessage =
  | { type: "timeline"; data: TimelineData }
  | { type: "graph"; data: GraphData }
  | { type: "experts"; data: ExpertsData }
  | { type: "roofline"; data: RooflineData }
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
