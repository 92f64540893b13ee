/**
 * What the timeline panel draws, cut from a Profile into compact typed arrays (webview/protocol.ts).
 * No `vscode` import: unit tests build it in Node.
 */
import type { GraphNode, Profile } from "../profile/model";
import { lastAtOrBefore } from "../profile/sorted";
import { SchedKind } from "../profile/stream";
import { backendSplits } from "./offloadData";
import { ThreadState, type Intervals, type NodeTable, type SpanTable, type ThreadStates, type TimelineData } from "../../webview/protocol";

export function shapeText(ne: number[]): string {
  return ne.join("x");
}

/** Rows of a NodeTable for every graph node, found by the graph computing at a time and a tensor address. */
class NodeRows {
  readonly table: NodeTable = { name: [], shape: [], type: [] };
  private readonly bySignature = new Map<string, Map<number, number>>();
  private readonly anyGraph = new Map<number, number>();
  private readonly graphStarts: Float64Array;
  private readonly graphSignatures: string[];

  constructor(profile: Profile) {
    for (const [signature, nodes] of profile.structures) {
      const rows = new Map<number, number>();
      for (const node of nodes) rows.set(node.tensor, this.add(node));
      this.bySignature.set(signature, rows);
      for (const [tensor, row] of rows) this.anyGraph.set(tensor, row);
    }
    this.graphStarts = Float64Array.from(profile.graphs, (g) => g.startNs);
    this.graphSignatures = profile.graphs.map((g) => g.signature);
  }

  /** The graph last looked up: spans of a lane come in time order, so the next one is near. */
  private graphHint = -1;

  rowOf(tensor: number, ts: number): number {
    const graph = this.graphAt(ts);
    const row = graph >= 0 ? this.bySignature.get(this.graphSignatures[graph])?.get(tensor) : undefined;
    return row ?? this.anyGraph.get(tensor) ?? -1;
  }

  /** Index of the last graph started at or before ts (-1 when none): steps forward from the hint, else searches. */
  private graphAt(ts: number): number {
    const starts = this.graphStarts;
    let g = this.graphHint;
    if (g >= -1 && (g < 0 || starts[g] <= ts)) {
      for (let steps = 0; steps < 4 && g + 1 < starts.length && starts[g + 1] <= ts; steps++) g++;
      if (g + 1 >= starts.length || starts[g + 1] > ts) return (this.graphHint = g);
    }
    return (this.graphHint = lastAtOrBefore(starts, ts));
  }

  private add(node: GraphNode): number {
    this.table.name.push(node.name);
    this.table.shape.push(shapeText(node.ne));
    this.table.type.push(node.type);
    return this.table.name.length - 1;
  }
}

function spanTable(profile: Profile, origin: number, nodes: NodeRows): SpanTable {
  const { spans } = profile;
  const { begin, end } = profile.opRecords;
  const n = spans.count;
  const table: SpanTable = {
    start: new Float64Array(n),
    end: new Float64Array(n),
    label: new Uint16Array(n),
    node: new Int32Array(n),
    cpuNs: new Float64Array(n),
    faults: new Uint32Array(n),
    switches: new Uint32Array(n),
    unterminated: Uint8Array.from(spans.endRow, (e) => (e < 0 ? 1 : 0)),
  };
  for (let s = 0; s < n; s++) {
    table.start[s] = spans.startNs[s] - origin;
    table.end[s] = spans.endNs[s] - origin;
    table.label[s] = spans.label[s];
    table.node[s] = nodes.rowOf(begin.tensor[spans.row[s]], spans.startNs[s]);
    const e = spans.endRow[s];
    if (e < 0) continue;
    table.cpuNs[s] = end.cpuNs[e];
    table.faults[s] = end.minFlt[e] + end.majFlt[e];
    table.switches[s] = end.nvcsw[e] + end.nivcsw[e];
  }
  return table;
}

/** Row indices of a record table in time order (records of different CPUs can arrive out of order). */
function byTime(table: { count: number; ts: Float64Array }): number[] {
  return Array.from({ length: table.count }, (_, i) => i).sort((a, b) => table.ts[a] - table.ts[b] || a - b);
}

/** Runs of one state per thread: In = running, preempted or woken = runnable, switched out asleep = sleeping. */
export function threadStates(profile: Profile, origin: number, endNs: number): ThreadStates[] {
  const { sched } = profile;
  const byThread = new Map<number, { start: number[]; state: number[] }>();
  for (const i of byTime(sched)) {
    const state = stateAfter(sched.kind[i]);
    if (state === undefined) continue;
    const runs = byThread.get(sched.tid[i]) ?? { start: [], state: [] };
    byThread.set(sched.tid[i], runs);
    // A wakeup of a thread that already runs (or is runnable) changes nothing.
    if (sched.kind[i] === SchedKind.Wakeup && runs.state.length && runs.state[runs.state.length - 1] !== ThreadState.Sleeping) continue;
    if (runs.state[runs.state.length - 1] === state) continue;
    runs.start.push(sched.ts[i] - origin);
    runs.state.push(state);
  }
  return [...byThread.entries()]
    .sort(([a], [b]) => a - b)
    .map(([tid, runs]) => ({
      tid,
      start: Float64Array.from(runs.start),
      end: Float64Array.from(runs.start, (_, k) => (k + 1 < runs.start.length ? runs.start[k + 1] : endNs)),
      state: Uint8Array.from(runs.state),
    }));
}

function stateAfter(kind: number): ThreadState | undefined {
  switch (kind) {
    case SchedKind.In:
      return ThreadState.Running;
    case SchedKind.OutPreempt:
    case SchedKind.Wakeup:
      return ThreadState.Runnable;
    case SchedKind.OutSleep:
      return ThreadState.Sleeping;
    default:
      return undefined;
  }
}

/** Periods with op tracing switched off: from each WINDOW off to the next on (or the end). */
export function tracingGaps(profile: Profile, origin: number, endNs: number): Intervals {
  const order = byTime(profile.windows);
  const start: number[] = [];
  const end: number[] = [];
  for (const i of order) {
    const ts = profile.windows.ts[i] - origin;
    if (profile.windows.on[i] === 0 && start.length === end.length) start.push(ts);
    else if (profile.windows.on[i] !== 0 && start.length > end.length) end.push(ts);
  }
  if (start.length > end.length) end.push(endNs);
  const kept = start.map((_, i) => i).filter((i) => end[i] > start[i]);
  return { start: Float64Array.from(kept, (i) => start[i]), end: Float64Array.from(kept, (i) => end[i]) };
}

/** First and last time of anything recorded (absolute ns); [0, 0] for an empty profile. */
function timeRange(profile: Profile): [number, number] {
  let first = Infinity;
  let last = -Infinity;
  const see = (from: number, to: number): void => {
    first = Math.min(first, from);
    last = Math.max(last, to);
  };
  for (const lane of profile.threads) see(profile.spans.startNs[lane.first], profile.spans.endNs[lane.first + lane.count - 1]);
  for (const c of profile.calls) see(c.startNs, c.endNs);
  for (const g of profile.graphs) see(g.startNs, g.endNs);
  for (const b of profile.backendSpans) see(b.startNs, b.endNs);
  for (const table of [profile.sched, profile.windows]) for (let i = 0; i < table.count; i++) see(table.ts[i], table.ts[i]);
  return Number.isFinite(first) ? [first, last] : [0, 0];
}

export function timelineData(profile: Profile, title: string, live: boolean): TimelineData {
  const [origin, last] = timeRange(profile);
  const durationNs = last - origin;
  const nodes = new NodeRows(profile);
  return {
    title,
    live,
    originNs: origin,
    durationNs,
    labels: profile.labels.map((l) => l.name),
    nodes: nodes.table,
    lanes: profile.threads.map((l) => ({ tid: l.tid, first: l.first, count: l.count })),
    spans: spanTable(profile, origin, nodes),
    calls: {
      start: Float64Array.from(profile.calls, (c) => c.startNs - origin),
      end: Float64Array.from(profile.calls, (c) => c.endNs - origin),
      nTokens: Int32Array.from(profile.calls, (c) => c.nTokens),
    },
    graphs: {
      start: Float64Array.from(profile.graphs, (g) => g.startNs - origin),
      end: Float64Array.from(profile.graphs, (g) => g.endNs - origin),
      nNodes: Int32Array.from(profile.graphs, (g) => g.nNodes),
    },
    splits: backendSplits(profile, origin),
    states: threadStates(profile, origin, durationNs),
    gaps: tracingGaps(profile, origin, durationNs),
    lostEvents: profile.lostEvents,
    truncated: profile.truncated,
    mode: profile.header.mode,
  };
}
