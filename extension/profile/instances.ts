/**
 * Op instances and phases of a profile, for the findings (findings.ts) and thread scaling
 * (scaling.ts).
 *
 * - An op *instance* is one node of one graph run: the spans of every thread that ran it (as in
 *   roofline.ts). Each thread's span ends where the thread reaches the barrier after the op, so the
 *   gap between a thread's end and the last thread's end is time that thread waited.
 * - A *phase* is the llama_decode calls of one kind (prefill or decode); phaseProfile() keeps the op
 *   spans that began inside them, so that the roofline analysis can be run on one phase.
 */
import { type GraphNode, type OpSpans, type Profile, type ThreadLane, type TokenCall } from "./model";
import { lastAtOrBefore } from "./sorted";

export type Phase = "prefill" | "decode";

export interface Instance {
  /** Index in Profile.graphs. */
  graph: number;
  node: GraphNode;
  /** The second node of a fused group, when the graph describes it. */
  second: GraphNode | undefined;
  /** Index in Profile.labels. */
  label: number;
  /** OP_BEGIN row of its first span (the result's shape as it ran: a reused graph's structure keeps its first shapes). */
  row: number;
  startNs: number;
  /** The last thread's end. */
  endNs: number;
  /** The first thread's end. */
  firstEndNs: number;
  /** Thread of the last end. */
  lastTid: number;
  threads: number;
  /** Thread time spent in the op: the sum of the spans' durations. */
  busyNs: number;
  /** Thread time spent waiting for the last thread: the sum of (last end - a thread's end). */
  waitNs: number;
  /** Major page faults counted by the spans' OP_END records. */
  majorFaults: number;
  /** Involuntary context switches counted by the spans' OP_END records: the scheduler took a thread off its CPU. */
  preemptions: number;
  /** Sum of the spans' ends (for waitNs). */
  sumEndNs: number;
}

/** Graph runs in order of start, with their structure's nodes by tensor address. */
export class GraphIndex {
  readonly order: number[];
  readonly starts: Float64Array;
  private readonly nodes: (Map<number, GraphNode> | undefined)[];

  constructor(profile: Profile) {
    this.order = profile.graphs.map((_, i) => i).sort((a, b) => profile.graphs[a].startNs - profile.graphs[b].startNs);
    this.starts = Float64Array.from(this.order, (i) => profile.graphs[i].startNs);
    const bySignature = new Map<string, Map<number, GraphNode>>();
    for (const [signature, nodes] of profile.structures) bySignature.set(signature, new Map(nodes.map((n) => [n.tensor, n])));
    this.nodes = profile.graphs.map((g) => bySignature.get(g.signature));
  }

  /** The graph run (index in Profile.graphs) running at `ts`, -1 when none. */
  graphAt(ts: number): number {
    const at = lastAtOrBefore(this.starts, ts);
    return at < 0 ? -1 : this.order[at];
  }

  node(graph: number, tensor: number): GraphNode | undefined {
    return graph < 0 || tensor === 0 ? undefined : this.nodes[graph]?.get(tensor);
  }
}

/**
 * The op instances of the profile whose node the graph structures describe (other spans are left
 * out: they cannot be told apart by node), in order of first appearance.
 */
export function opInstances(profile: Profile): Instance[] {
  const graphs = new GraphIndex(profile);
  const { spans } = profile;
  const { begin, end } = profile.opRecords;
  const byKey = new Map<number, Instance>();
  const list: Instance[] = [];
  for (const { tid, first, count } of profile.threads) {
    for (let s = first; s < first + count; s++) {
      const row = spans.row[s];
      const graph = graphs.graphAt(spans.startNs[s]);
      const node = graphs.node(graph, begin.tensor[row]);
      if (!node) continue;
      const key = graph * 2 ** 20 + node.index;
      let instance = byKey.get(key);
      if (!instance) {
        const second = profile.labels[spans.label[s]].fused ? graphs.node(graph, begin.tensor2[row]) : undefined;
        instance = newInstance(graph, node, second, spans.label[s], row, spans.startNs[s]);
        byKey.set(key, instance);
        list.push(instance);
      }
      const endRow = spans.endRow[s];
      addSpan(instance, spans, s, tid, endRow >= 0 ? end.majFlt[endRow] : 0, endRow >= 0 ? end.nivcsw[endRow] : 0);
    }
  }
  return list;
}

function newInstance(graph: number, node: GraphNode, second: GraphNode | undefined, label: number, row: number, startNs: number): Instance {
  return { graph, node, second, label, row, startNs, endNs: -Infinity, firstEndNs: Infinity, lastTid: 0, threads: 0, busyNs: 0, waitNs: 0, majorFaults: 0, preemptions: 0, sumEndNs: 0 };
}

function addSpan(instance: Instance, spans: OpSpans, s: number, tid: number, majorFaults: number, preemptions: number): void {
  const [start, end] = [spans.startNs[s], spans.endNs[s]];
  instance.startNs = Math.min(instance.startNs, start);
  if (end > instance.endNs) {
    instance.endNs = end;
    instance.lastTid = tid;
  }
  instance.firstEndNs = Math.min(instance.firstEndNs, end);
  instance.threads++;
  instance.busyNs += end - start;
  instance.majorFaults += majorFaults;
  instance.preemptions += preemptions;
  // Each thread waits from its end to the last end: the sum is threads x last end - the sum of ends.
  instance.sumEndNs += end;
  instance.waitNs = instance.threads * instance.endNs - instance.sumEndNs;
}

// ---- phases ------------------------------------------------------------------------------

/** The calls of one kind, in order of start. */
export function callsOf(profile: Profile, kind: Phase): TokenCall[] {
  return profile.calls.filter((c) => c.kind === kind).sort((a, b) => a.startNs - b.startNs);
}

/** Index of the call (in `calls`, sorted by start) whose time holds `ts`, -1 when none. */
export function callAt(calls: TokenCall[], starts: Float64Array, ts: number): number {
  const at = lastAtOrBefore(starts, ts);
  return at >= 0 && ts <= calls[at].endNs ? at : -1;
}

/** The profile with only the op spans that began inside calls of `kind`. */
export function phaseProfile(profile: Profile, kind: Phase): Profile {
  const calls = callsOf(profile, kind);
  const starts = Float64Array.from(calls, (c) => c.startNs);
  const kept: number[] = [];
  const threads: ThreadLane[] = [];
  for (const { tid, first, count } of profile.threads) {
    const lane = { tid, first: kept.length, count: 0 };
    for (let s = first; s < first + count; s++) if (callAt(calls, starts, profile.spans.startNs[s]) >= 0) kept.push(s);
    lane.count = kept.length - lane.first;
    if (lane.count > 0) threads.push(lane);
  }
  return { ...profile, spans: pickSpans(profile.spans, kept), threads };
}

function pickSpans(spans: OpSpans, kept: number[]): OpSpans {
  return {
    count: kept.length,
    startNs: Float64Array.from(kept, (s) => spans.startNs[s]),
    endNs: Float64Array.from(kept, (s) => spans.endNs[s]),
    row: Uint32Array.from(kept, (s) => spans.row[s]),
    label: Uint32Array.from(kept, (s) => spans.label[s]),
    endRow: Int32Array.from(kept, (s) => spans.endRow[s]),
  };
}


/** Layer of a tensor name: "ffn_moe_gate-3" and "blk.3.ffn_gate" are layer 3; -1 when none. */
export function layerOfName(name: string): number {
  const base = baseName(name);
  const match = /^blk\.(\d+)\./.exec(base) ?? /-(\d+)$/.exec(base) ?? /_l(\d+)$/.exec(base);
  return match ? Number(match[1]) : -1;
}

/** A tensor name without ggml's " (view)", " (permuted)", ... suffixes. */
export function baseName(name: string): string {
  return name.replace(/(\s*\([^)]*\))+$/, "");
}
