/**
 * Runs of llama_decode calls built record by record for the findings and scaling tests: two graph
 * structures (prefill: batch > 1, decode: batch 1), op runs on threads 1 and 2 at given times,
 * major faults and expert picks where asked.
 */
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import type { MachineCeilings } from "../../extension/profile/machine";
import { DEFAULT_HEADER, StreamBuilder } from "./streamBuilder";

const OPS = ["NONE", "ADD", "MUL_MAT", "MUL_MAT_ID", "FLASH_ATTN_EXT", "SOFT_MAX", "GET_ROWS"];
export const OP = { ADD: 1, MUL_MAT: 2, MUL_MAT_ID: 3, FLASH_ATTN_EXT: 4, SOFT_MAX: 5 } as const;
const TYPES = [
  { name: "f32", blck_size: 1, type_size: 4, is_quantized: false },
  { name: "f16", blck_size: 1, type_size: 2, is_quantized: false },
  { name: "q4_0", blck_size: 32, type_size: 18, is_quantized: true },
  { name: "q8_0", blck_size: 32, type_size: 34, is_quantized: true },
  { name: "i32", blck_size: 1, type_size: 4, is_quantized: false },
];
export const TYPE = { f32: 0, f16: 1, q4_0: 2, i32: 4 } as const;
const SIG_PREFILL = 0xf1000000000001n;
const SIG_DECODE = 0xf1000000000002n;

/** A node of the test graphs: its tensor, op, result shape, sources (leaves made for them) and name. */
export interface TestNode {
  tensor: number;
  op: number;
  ne: number[];
  name: string;
  sources: { tensor: number; type: number; ne: number[] }[];
}

/** One op run: each thread's [start, end] relative to the call's start; major faults on its first span. */
export interface TestRun {
  tensor: number;
  threads: [number, number][];
  majFlt?: number;
  /** The result's shape in its OP_BEGIN records, when it differs from the node's. */
  ne?: number[];
  /** Experts chosen (MUL_MAT_ID), written as an EXPERT_IDS record at the run's start. */
  experts?: { nUsed: number; ids: number[] };
}

export interface TestCall {
  nTokens: number;
  /** Start of the call; its graph starts 100 ns later, its runs are relative to the graph. */
  at: number;
  runs: TestRun[];
}

export function ceilings(): MachineCeilings {
  const rate = (median: number) => ({ median, samples: [median] });
  const level = (name: string, one: number, all: number) => ({ level: name, working_set_bytes: { one_thread: 1, all_threads_each: 1 }, one_thread: rate(one), all_threads: rate(all) });
  return {
    format: "ggml-lens-machine",
    version: 1,
    cpu: { model: "Test CPU", isa: "avx2+fma", vector_lanes_f32: 8, fma: true, threads: 2, cores: 2, ghz: 3, ghz_source: "test" },
    caches: [
      { level: 1, size_bytes: 48 << 10, shared_by: 1 },
      { level: 2, size_bytes: 1 << 20, shared_by: 1 },
      { level: 3, size_bytes: 32 << 20, shared_by: 2 },
    ],
    caches_source: "test",
    repetitions: 1,
    peak_gflops: { one_thread: rate(100), all_threads: rate(200) },
    theoretical: null,
    bandwidth_gbps: [level("L1", 200, 400), level("L2", 100, 200), level("L3", 50, 80), level("DRAM", 10, 15)],
    bytes_counted: "test",
    notes: [],
    elapsed_s: 0,
    measured_at: "2026-01-01T00:00:00.000Z",
    machine_key: "test",
    kernel: "test",
  };
}

/** The profile of calls running `prefill` nodes (batch > 1) or `decode` nodes (batch 1), on threads 1 and 2. */
export function profileOf(prefill: TestNode[], decode: TestNode[], calls: TestCall[]): Profile {
  const b = new StreamBuilder({ ...DEFAULT_HEADER, ops: OPS, types: TYPES }, 1, 2);
  structure(b, SIG_PREFILL, prefill);
  structure(b, SIG_DECODE, decode);
  for (const call of calls) {
    const signature = call.nTokens > 1 ? SIG_PREFILL : SIG_DECODE;
    const nodes = call.nTokens > 1 ? prefill : decode;
    const graphAt = call.at + 100;
    b.decodeBegin({ tid: 1, ts: call.at, nTokens: call.nTokens });
    b.graphBegin({ tid: 1, ts: graphAt, signature, nNodes: nodes.length });
    const events: { ts: number; write: () => void }[] = [];
    for (const run of call.runs) {
      const node = nodes.find((n) => n.tensor === run.tensor);
      const [op, ne] = [node?.op ?? OP.ADD, run.ne ?? node?.ne];
      run.threads.forEach(([start, end], k) => {
        const tid = k + 1;
        events.push({ ts: graphAt + start, write: () => b.opBegin({ tid, ts: graphAt + start, tensor: run.tensor, op, ne }) });
        events.push({ ts: graphAt + end, write: () => b.opEnd({ tid, ts: graphAt + end, tensor: run.tensor, majFlt: k === 0 ? run.majFlt : 0 }) });
      });
      const experts = run.experts;
      if (experts) {
        const ts = graphAt + run.threads[0][0] + 1;
        events.push({ ts, write: () => b.expertIds({ tid: 1, ts, tensor: run.tensor, nUsed: experts.nUsed, nTokens: experts.ids.length / experts.nUsed, ids: experts.ids }) });
      }
    }
    events.sort((x, y) => x.ts - y.ts).forEach((e) => e.write());
    const end = graphAt + Math.max(...call.runs.flatMap((r) => r.threads.map(([, e]) => e))) + 100;
    b.graphEnd({ tid: 1, ts: end });
    b.decodeEnd({ tid: 1, ts: end + 100 });
  }
  return buildProfile(decodeStream(b.trailer(undefined, 1e12).bytes()));
}

function structure(b: StreamBuilder, signature: bigint, nodes: TestNode[]): void {
  nodes.forEach((n, index) => {
    b.graphNode({ tid: 1, ts: 1, signature, index, tensor: n.tensor, op: n.op, ne: n.ne, src: n.sources.map((s) => s.tensor), name: n.name });
    for (const s of n.sources) b.graphLeaf({ tid: 1, ts: 1, signature, tensor: s.tensor, type: s.type, ne: s.ne, consumer: index, name: `leaf${s.tensor}` });
  });
}

export const matmul = (tensor: number, tokens: number, name = `ffn_up-0`): TestNode => ({
  tensor,
  op: OP.MUL_MAT,
  ne: [64, tokens, 1, 1],
  name,
  sources: [
    { tensor: tensor + 0x10000, type: TYPE.q4_0, ne: [256, 64, 1, 1] },
    { tensor: tensor + 0x20000, type: TYPE.f32, ne: [256, tokens, 1, 1] },
  ],
});

export const add = (tensor: number, tokens: number): TestNode => ({
  tensor,
  op: OP.ADD,
  ne: [256, tokens, 1, 1],
  name: "ffn_inp-0",
  sources: [
    { tensor: tensor + 0x10000, type: TYPE.f32, ne: [256, tokens, 1, 1] },
    { tensor: tensor + 0x20000, type: TYPE.f32, ne: [256, tokens, 1, 1] },
  ],
});

export const balanced = (start: number, length: number): [number, number][] => [
  [start, start + length],
  [start, start + length],
];

