/**
 * A Chrome / Perfetto trace (the JSON Trace Event format, which ui.perfetto.dev and chrome://tracing
 * open): one track per thread; llama_decode calls, graphs and op spans as complete ("X") slices
 * nested on their thread; counters of each decode call as counter tracks; process and thread names
 * as metadata events.
 *
 * Times are microseconds from the first event, written with three decimals: exact nanoseconds.
 * A slice never crosses its parent's end (the format needs proper nesting per thread): one that would
 * is cut at the parent's end and says so in its args.
 */
import * as path from "node:path";
import type { Recording } from "../file";
import { typeName, opName, type Profile, type ThreadLane } from "../model";
import { GraphIndex } from "../instances";
import type { DecodedStream } from "../stream";
import { callName, graphName } from "./context";

interface Slice {
  startNs: number;
  endNs: number;
  /** 0 decode call, 1 graph, 2 op: the parent comes first when two start together. */
  level: number;
  /** The event's JSON without ts and dur. */
  body: (clipped: boolean) => string;
}

/** ns after `origin` as microseconds with exactly three decimals. */
function micros(ns: number, origin: number): string {
  const rel = Math.max(0, Math.round(ns - origin));
  return `${Math.floor(rel / 1000)}.${String(rel % 1000).padStart(3, "0")}`;
}

function event(fields: Record<string, unknown>, startNs: number, durNs: number | undefined, origin: number): string {
  const json = JSON.stringify(fields);
  const time = durNs === undefined ? `"ts":${micros(startNs, origin)}` : `"ts":${micros(startNs, origin)},"dur":${micros(origin + durNs, origin)}`;
  return `{${time},${json.slice(1)}`;
}

function firstNs(p: Profile): number {
  let first = Infinity;
  if (p.calls.length) first = Math.min(first, p.calls[0].startNs);
  if (p.graphs.length) first = Math.min(first, p.graphs[0].startNs);
  for (const lane of p.threads) first = Math.min(first, p.spans.startNs[lane.first]);
  return Number.isFinite(first) ? first : 0;
}

function callSlices(p: Profile, pid: number): Map<number, Slice[]> {
  const byThread = new Map<number, Slice[]>();
  const add = (tid: number, slice: Slice): void => void (byThread.get(tid) ?? byThread.set(tid, []).get(tid))?.push(slice);
  for (const call of p.calls) {
    const args = { n_tokens: call.nTokens, kind: call.kind, ret: call.ret };
    add(call.tid, { startNs: call.startNs, endNs: call.endNs, level: 0, body: (clipped) => JSON.stringify({ ph: "X", pid, tid: call.tid, cat: "token", name: callName(call), args: { ...args, ...(clipped ? { clipped } : {}) } }) });
  }
  for (const graph of p.graphs) {
    const args = { signature: graph.signature, n_nodes: graph.nNodes, status: graph.status };
    add(graph.tid, { startNs: graph.startNs, endNs: graph.endNs, level: 1, body: (clipped) => JSON.stringify({ ph: "X", pid, tid: graph.tid, cat: "graph", name: graphName(graph), args: { ...args, ...(clipped ? { clipped } : {}) } }) });
  }
  return byThread;
}

/** The name of span `s`'s tensor, from its graph's structure ("" when that does not list it). */
function spanTensorName(p: Profile, graphs: GraphIndex, s: number): string {
  const node = graphs.node(graphs.graphAt(p.spans.startNs[s]), p.opRecords.begin.tensor[p.spans.row[s]]);
  return node?.name ?? "";
}

/** The args of op span `s`: its tensor, op, shape, type, worker index, CPU and counters. */
function opArgs(p: Profile, graphs: GraphIndex, s: number): Record<string, unknown> {
  const begin = p.opRecords.begin;
  const end = p.opRecords.end;
  const row = p.spans.row[s];
  const args: Record<string, unknown> = {
    tensor: spanTensorName(p, graphs, s),
    op: opName(p.header, begin.op[row]),
    shape: Array.from(begin.ne.subarray(row * 4, row * 4 + 4)),
    type: typeName(p.header, begin.type[row]),
    ith: begin.ith[row],
    cpu: begin.cpu[row],
  };
  const e = p.spans.endRow[s];
  if (e < 0) args.unterminated = true;
  else {
    Object.assign(args, {
      minor_faults: end.minFlt[e],
      major_faults: end.majFlt[e],
      voluntary_switches: end.nvcsw[e],
      involuntary_switches: end.nivcsw[e],
      cpu_ns: end.cpuNs[e],
    });
  }
  return args;
}

function opSlices(p: Profile, graphs: GraphIndex, pid: number, { tid, first, count }: ThreadLane): Slice[] {
  const slices: Slice[] = [];
  for (let s = first; s < first + count; s++) {
    const name = p.labels[p.spans.label[s]].name;
    slices.push({
      startNs: p.spans.startNs[s],
      endNs: Math.max(p.spans.startNs[s], p.spans.endNs[s]),
      level: 2,
      body: (clipped) => JSON.stringify({ ph: "X", pid, tid, cat: "op", name, args: { ...opArgs(p, graphs, s), ...(clipped ? { clipped } : {}) } }),
    });
  }
  return slices;
}

/** A thread's slices in start order, each cut at its parent's end so that they nest. */
function* nested(slices: Slice[], origin: number): Generator<string> {
  slices.sort((a, b) => a.startNs - b.startNs || a.level - b.level || b.endNs - a.endNs);
  const open: number[] = [];
  for (const slice of slices) {
    while (open.length && open[open.length - 1] <= slice.startNs) open.pop();
    const parentEnd = open.length ? open[open.length - 1] : Infinity;
    const endNs = Math.min(slice.endNs, parentEnd);
    open.push(endNs);
    const body = slice.body(endNs < slice.endNs);
    yield `{"ts":${micros(slice.startNs, origin)},"dur":${micros(origin + endNs - slice.startNs, origin)},${body.slice(1)}`;
  }
}

function metadata(p: Profile, pid: number, tids: number[]): string[] {
  const exe = p.header.target.exe ? path.basename(p.header.target.exe) : "target";
  const callers = new Set(p.calls.map((c) => c.tid));
  const events = [JSON.stringify({ ph: "M", pid, tid: 0, name: "process_name", args: { name: `${exe} (pid ${pid})` } })];
  tids.forEach((tid, index) => {
    const role = callers.has(tid) ? "llama_decode" : "ggml worker";
    events.push(JSON.stringify({ ph: "M", pid, tid, name: "thread_name", args: { name: `${role} ${tid}` } }));
    events.push(JSON.stringify({ ph: "M", pid, tid, name: "thread_sort_index", args: { sort_index: index } }));
  });
  return events;
}

/** Counters of each decode call, read at its end (a counter track per name and key). */
function counterEvents(stream: DecodedStream, pid: number, origin: number): string[] {
  const end = stream.tables.decodeEnd;
  const events: string[] = [];
  for (let i = 0; i < end.count; i++) {
    const args = {
      minor_faults: end.minFlt[i],
      major_faults: end.majFlt[i],
      context_switches: end.nvcsw[i] + end.nivcsw[i],
      cpu_ms: end.cpuNs[i] / 1e6,
    };
    events.push(event({ ph: "C", pid, tid: end.tid[i], name: "llama_decode counters", args }, end.ts[i], undefined, origin));
  }
  return events;
}

/** The trace as chunks of JSON text (a long run has millions of slices: never one string). */
export function* perfettoTrace(recording: Recording): Generator<string> {
  const { stream, profile: p } = recording;
  const pid = p.header.target.pid;
  const origin = firstNs(p);
  const byThread = callSlices(p, pid);
  const graphs = new GraphIndex(p);
  for (const lane of p.threads) byThread.set(lane.tid, [...(byThread.get(lane.tid) ?? []), ...opSlices(p, graphs, pid, lane)]);
  const tids = [...byThread.keys()].sort((a, b) => a - b);
  const meta = { tool: "ggml-lens", origin_ns: origin, mode: p.header.mode, op_method: p.header.op_method, argv: p.header.target.argv };
  yield `{"displayTimeUnit":"ns","otherData":${JSON.stringify(meta)},"traceEvents":[\n`;
  yield [...metadata(p, pid, tids), ...counterEvents(stream, pid, origin)].join(",\n");
  for (const tid of tids) {
    let batch: string[] = [];
    for (const line of nested(byThread.get(tid) ?? [], origin)) {
      batch.push(line);
      if (batch.length === 10_000) {
        yield `,\n${batch.join(",\n")}`;
        batch = [];
      }
    }
    if (batch.length) yield `,\n${batch.join(",\n")}`;
  }
  yield "\n]}\n";
}
