// A synthetic full-mode stream shaped like a real one (llama-completion on the 1B-class model, 2
// threads), for decode benchmarks of any size: written with the test encoder
// (test/unit/streamBuilder.ts), one token's records at a time, then repeated with shifted times.
import { DEFAULT_TRAILER, OP, StreamBuilder } from "../../test/unit/streamBuilder";

export interface SyntheticShape {
  /** Worker threads; each runs every op of every graph (one span per op per thread). */
  threads: number;
  /** Graph nodes per token; every NODES_PER_LAYER-th node is a fused RMS_NORM+MUL group. */
  nodes: number;
  /** Scheduler events and timer samples per token. */
  sched: number;
  samples: number;
}

/** Like a real recording of the 1B-class model: 2 threads, 277 op spans per thread per token (35 of them fused), 19 sched events and 1 sample per token. */
export const LLAMA_1B_SHAPE: SyntheticShape = { threads: 2, nodes: 312, sched: 19, samples: 1 };

const NODES_PER_LAYER = 9;
const SIGNATURE = 0x5eed_0000_0000_0001n;
const NODE_NS = 20_000;
const TOKEN_NS = 50_000_000;
const FIRST_TID = 4000;
const TENSOR_BASE = 0x7f00_0000_0000;
const TENSOR_STRIDE = 0x180;

export interface SyntheticStream {
  bytes: Uint8Array;
  /** Records, trailer excluded (what decodeStream counts). */
  events: number;
  tokens: number;
  spans: number;
}

function tensorOf(node: number): number {
  return TENSOR_BASE + node * TENSOR_STRIDE;
}

function isFused(node: number, shape: SyntheticShape): boolean {
  return node % NODES_PER_LAYER === 0 && node + 1 < shape.nodes;
}

/** Op value of a node: a fused group's first node is RMS_NORM, its second MUL; the rest cycle through the others. */
function opOf(node: number, shape: SyntheticShape): number {
  if (isFused(node, shape)) return OP.RMS_NORM;
  if (node > 0 && isFused(node - 1, shape)) return OP.MUL;
  return [OP.MUL_MAT, OP.ADD, OP.MUL_MAT, OP.SOFT_MAX, OP.MUL_MAT, OP.DUP][node % 6];
}

/** The graph's structure, recorded once (as the helper does for each distinct graph). */
function graphStructure(b: StreamBuilder, shape: SyntheticShape): void {
  for (let node = 0; node < shape.nodes; node++) {
    const src = node === 0 ? [0x1000] : [tensorOf(node - 1), 0x2000 + node];
    b.graphNode({ tid: FIRST_TID, ts: 1, signature: SIGNATURE, tensor: tensorOf(node), src, ne: [2048, 1, 1, 1], nb: [4, 8192, 8192, 8192], index: node, op: opOf(node, shape), name: `node_${node}` });
  }
}

/** One llama_decode call of one token, its graph, and every thread's op spans, from time 0. */
function token(b: StreamBuilder, shape: SyntheticShape): void {
  const tid = (t: number): number => FIRST_TID + t;
  b.decodeBegin({ tid: tid(0), ts: 0, nTokens: 1 });
  b.graphBegin({ tid: tid(0), ts: 100, signature: SIGNATURE, nNodes: shape.nodes });
  let ts = 1000;
  for (let node = 0; node < shape.nodes; node++) {
    if (node > 0 && isFused(node - 1, shape)) continue;
    const fused = isFused(node, shape);
    for (let t = 0; t < shape.threads; t++) {
      b.opBegin({ tid: tid(t), ts: ts + t, tensor: tensorOf(node), tensor2: fused ? tensorOf(node + 1) : 0, flags: fused ? 1 : 0, ne: [2048, 1, 1, 1], op: opOf(node, shape), ith: t, name: `node_${node}` });
    }
    for (let t = 0; t < shape.threads; t++) b.opEnd({ tid: tid(t), ts: ts + NODE_NS - 50 + t, tensor: tensorOf(node), minFlt: node % 3, cpuNs: NODE_NS - 100 });
    ts += NODE_NS;
  }
  for (let i = 0; i < shape.sched; i++) b.sched({ tid: tid(i % shape.threads), ts: ts + i, kind: 1 + (i % 4) });
  for (let i = 0; i < shape.samples; i++) b.sample({ tid: tid(0), ts: ts + 100 + i, ip: 0x7f1000001000 + i * 16, tensor: tensorOf(i) });
  b.graphEnd({ tid: tid(0), ts: ts + 200 });
  b.decodeEnd({ tid: tid(0), ts: ts + 300 });
}

/** Byte offsets of the records in `bytes` (whole records, from its start). */
function recordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += view.getUint16(at + 2, true)) offsets.push(at);
  return offsets;
}

/** At least `minEvents` records: the graph's structure, then whole tokens, then a trailer. */
export function syntheticStream(minEvents: number, shape: SyntheticShape = LLAMA_1B_SHAPE): SyntheticStream {
  const prefix = new StreamBuilder().window({ tid: FIRST_TID, ts: 0, on: true });
  graphStructure(prefix, shape);
  const head = prefix.bytes();
  const headerBytes = new StreamBuilder().bytes().length;
  const block = new StreamBuilder();
  token(block, shape);
  const tokenBytes = block.bytes().subarray(headerBytes);
  const tokenRecords = recordOffsets(tokenBytes);
  const headRecords = recordOffsets(head.subarray(headerBytes)).length;
  const tokens = Math.max(1, Math.ceil((minEvents - headRecords) / tokenRecords.length));
  const trailer = new StreamBuilder().trailer({ ...DEFAULT_TRAILER, lost: {} }, tokens * TOKEN_NS + TOKEN_NS).bytes().subarray(headerBytes);
  const bytes = new Uint8Array(head.length + tokens * tokenBytes.length + trailer.length);
  bytes.set(head);
  const words = new Uint32Array(bytes.buffer, 0, bytes.length >>> 2);
  for (let i = 0; i < tokens; i++) {
    const at = head.length + i * tokenBytes.length;
    bytes.set(tokenBytes, at);
    shiftTimes(words, at, tokenRecords, TOKEN_NS * (i + 1));
  }
  bytes.set(trailer, head.length + tokens * tokenBytes.length);
  const spansPerToken = shape.threads * (shape.nodes - countFused(shape));
  return { bytes, events: headRecords + tokens * tokenRecords.length, tokens, spans: tokens * spansPerToken };
}

/** Events of a stream with at least `spans` op spans. */
export function eventsForSpans(spans: number, shape: SyntheticShape = LLAMA_1B_SHAPE): number {
  const spansPerToken = shape.threads * (shape.nodes - countFused(shape));
  const recordsPerToken = 4 + 2 * spansPerToken + shape.sched + shape.samples;
  return Math.ceil(spans / spansPerToken) * recordsPerToken;
}

function countFused(shape: SyntheticShape): number {
  let n = 0;
  for (let node = 0; node < shape.nodes; node++) if (isFused(node, shape)) n++;
  return n;
}

/** Adds `shift` ns to the ts (u64 at byte 8, below 2^53) of each record of a copied token. */
function shiftTimes(words: Uint32Array, at: number, records: number[], shift: number): void {
  for (const offset of records) {
    const w = (at + offset + 8) >>> 2;
    const ts = words[w] + words[w + 1] * 4294967296 + shift;
    words[w] = ts % 4294967296;
    words[w + 1] = Math.floor(ts / 4294967296);
  }
}
