/**
 * The fast paths of the decoder and the profile builder (record walk, column blocks, op span
 * pairing, labels, names) checked against a plain reference written here: a DataView walk over the
 * bytes, objects per record, and the pairing rules applied one thread at a time. The stream is
 * random (seeded) and irregular: five threads, unterminated spans, unmatched ends, windows, fused
 * ops, unknown and undersized records, 64-bit times, ASCII, UTF-8 and full-length names.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, laneOf, percentile, type Profile } from "../../extension/profile/model";
import { decodeStream, LAYOUTS, TABLE_NAMES, type DecodedStream } from "../../extension/profile/stream";
import { DEFAULT_HEADER, OP, StreamBuilder } from "./streamBuilder";

const SIG_A = 0xaaaa000000000001n;
const SIG_B = 0xbbbb000000000002n;
const TIDS = [7, 3, 11, 5, 9];
const T0 = 2 ** 33;
const FULL_NAME = "n".repeat(64);

/** A deterministic pseudo-random sequence in [0, 1) (LCG). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** The graph nodes of each structure: tensor 0x11 is MUL in A and ADD in B; 0x12 is in B only. */
const NODES: { signature: bigint; tensor: number; op: number; name: string; src: number[] }[] = [
  { signature: SIG_A, tensor: 0x10, op: OP.RMS_NORM, name: "blk.0.attn_norm-0", src: [0x500, 0x501] },
  { signature: SIG_A, tensor: 0x11, op: OP.MUL, name: "größe", src: [0x10, 0, 0x502] },
  { signature: SIG_B, tensor: 0x10, op: OP.RMS_NORM, name: FULL_NAME, src: [] },
  { signature: SIG_B, tensor: 0x11, op: OP.ADD, name: "ffn_out-3", src: [0x10, 0x503, 0, 0, 0, 0, 0, 0, 0, 0x504] },
  { signature: SIG_B, tensor: 0x12, op: OP.SOFT_MAX, name: "kq_soft_max-0", src: [0x11] },
];

function irregularStream(seed: number, steps: number): Uint8Array {
  const rand = random(seed);
  const b = new StreamBuilder(DEFAULT_HEADER, 1, 4);
  let ts = T0;
  NODES.forEach((n, index) => b.graphNode({ tid: 7, ts, ...n, index, ne: [index + 1, -2, 2 ** 40, 1], nb: [4, 8, 16, 2 ** 35] }));
  b.graphLeaf({ tid: 7, ts, signature: SIG_A, tensor: 0x500, name: "token_embd.weight", ne: [64, 32, 1, 1] });
  const open = new Map<number, boolean>();
  let graphOpen = false;
  for (let step = 0; step < steps; step++) {
    ts += 1 + Math.floor(rand() * 50);
    const tid = TIDS[Math.floor(rand() * TIDS.length)];
    const r = rand();
    if (r < 0.01) b.window({ tid, ts, on: rand() < 0.5 });
    else if (r < 0.02) {
      if (graphOpen) b.graphEnd({ tid: 7, ts });
      else b.graphBegin({ tid: 7, ts, signature: rand() < 0.5 ? SIG_A : SIG_B, nNodes: 3 });
      graphOpen = !graphOpen;
    } else if (r < 0.03) b.record(200 + Math.floor(rand() * 3), 32, { tid, ts });
    else if (r < 0.035) b.record(7, 24, { tid, ts }, () => {}, 24);
    else if (r < 0.08) b.sched({ tid, ts, kind: 1 + Math.floor(rand() * 4) });
    else if (open.get(tid) ? rand() < 0.12 : rand() < 0.92) {
      const fused = rand() < 0.3;
      const tensor2 = fused ? [0, 0x11, 0x12, 0x99][Math.floor(rand() * 4)] : 0;
      b.opBegin({ tid, ts, tensor: 0x10, tensor2, flags: fused ? 1 : 0, op: Math.floor(rand() * 7), name: "x" });
      open.set(tid, true);
    } else {
      b.opEnd({ tid, ts, tensor: 0x10, minFlt: step % 7, majFlt: step % 3, nvcsw: step % 5, nivcsw: step % 2, cpuNs: 2 ** 34 + step });
      open.set(tid, false);
    }
  }
  return b.trailer().bytes();
}

interface RefRecord {
  type: number;
  pos: number;
  size: number;
  tid: number;
  ts: number;
  view: DataView;
}

/** The records after the (zero-padded) JSON header, as objects; offsets count from the first record. */
function referenceRecords(bytes: Uint8Array): RefRecord[] {
  const whole = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = Math.ceil((16 + whole.getUint32(12, true)) / 8) * 8;
  const records: RefRecord[] = [];
  for (let at = start; at + 16 <= bytes.length; ) {
    const type = whole.getUint16(at, true);
    const size = whole.getUint16(at + 2, true);
    if (type === 12) break;
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, size);
    records.push({ type, pos: at - start, size, tid: view.getUint32(4, true), ts: Number(view.getBigUint64(8, true)), view });
    at += size;
  }
  return records;
}

const LAYOUT_SIZES = new Map<number, number>(Object.values(LAYOUTS).map((l) => [l.type, l.size]));

function checkTables(stream: DecodedStream, records: RefRecord[]): void {
  const tsAt = new Map(records.map((r) => [r.pos, r.ts]));
  for (const name of TABLE_NAMES) {
    const { type, size } = LAYOUTS[name];
    const expected = records.filter((r) => r.type === type && r.size >= size).map((r) => r.pos);
    assert.deepEqual(Array.from(stream.tables[name].offset), expected, `${name} offsets`);
    assert.deepEqual(Array.from(stream.tables[name].ts), expected.map((pos) => tsAt.get(pos)), `${name} ts`);
  }
  const unknown = new Map<number, number>();
  for (const r of records) if (!LAYOUT_SIZES.has(r.type)) unknown.set(r.type, (unknown.get(r.type) ?? 0) + 1);
  assert.deepEqual(stream.unknown, unknown);
  assert.equal(stream.count, records.length);
  const small = records.filter((r) => (LAYOUT_SIZES.get(r.type) ?? 0) > r.size).length;
  assert.ok(small > 0 && stream.errors.filter((e) => /is smaller than its/.test(e)).length === Math.min(small, 50), "undersized records reported");
}

type RefSpan = [tid: number, start: number, end: number, row: number, label: string, fused: boolean, unterminated: number, endRow: number];

/** The op of `tensor` in the graph computing at `ts`, else in any graph (the last node seen). */
function referenceSecondOp(records: RefRecord[], tensor: number, ts: number): number | undefined {
  const graph = records.filter((r) => r.type === LAYOUTS.graphBegin.type && r.ts <= ts).pop();
  const nodes = NODES.filter((n) => n.tensor === tensor);
  const inGraph = graph && nodes.find((n) => n.signature === graph.view.getBigUint64(24, true));
  return (inGraph ?? nodes[nodes.length - 1])?.op;
}

function referenceLabel(records: RefRecord[], r: RefRecord): [string, boolean] {
  const ops = DEFAULT_HEADER.ops;
  const op = r.view.getInt32(64, true);
  if ((r.view.getUint32(84, true) & 1) === 0) return [ops[op], false];
  const tensor2 = Number(r.view.getBigUint64(24, true));
  const second = tensor2 === 0 ? undefined : referenceSecondOp(records, tensor2, r.ts);
  return [second === undefined ? ops[op] : `${ops[op]}+${ops[second]}`, true];
}

/** The pairing rules, thread by thread; spans grouped by thread id, in begin order. */
function referenceSpans(records: RefRecord[]): { spans: RefSpan[]; counters: Map<string, number[]> } {
  const offs = records.filter((r) => r.type === LAYOUTS.window.type && r.view.getUint32(16, true) === 0).map((r) => r.ts);
  const begins = new Map(records.filter((r) => r.type === LAYOUTS.opBegin.type).map((r, row) => [r, row]));
  const ends = new Map(records.filter((r) => r.type === LAYOUTS.opEnd.type && r.size >= LAYOUTS.opEnd.size).map((r, row) => [r, row]));
  const spans: RefSpan[] = [];
  const counters = new Map<string, number[]>();
  for (const tid of [...TIDS].sort((a, b) => a - b)) {
    let open: { row: number; ts: number; label: [string, boolean] } | undefined;
    for (const r of records.filter((x) => x.tid === tid && (begins.has(x) || ends.has(x)))) {
      if (r.type === LAYOUTS.opBegin.type) {
        const from = open?.ts ?? 0;
        if (open && !offs.some((w) => from < w && w <= r.ts)) spans.push([tid, open.ts, r.ts, open.row, ...open.label, 1, -1]);
        open = { row: begins.get(r) ?? -1, ts: r.ts, label: referenceLabel(records, r) };
      } else if (open) {
        spans.push([tid, open.ts, r.ts, open.row, ...open.label, 0, ends.get(r) ?? -1]);
        const key = `${open.label[0]}/${open.label[1]}`;
        const sum = counters.get(key) ?? [0, 0, 0, 0, 0];
        [32, 36, 40, 44].forEach((at, k) => (sum[k] += r.view.getUint32(at, true)));
        sum[4] += Number(r.view.getBigUint64(48, true));
        counters.set(key, sum);
        open = undefined;
      }
    }
  }
  return { spans, counters };
}

function profileSpans(p: Profile): RefSpan[] {
  const s = p.spans;
  return Array.from({ length: s.count }, (_, i) => {
    const label = p.labels[s.label[i]];
    return [laneOf(p.threads, i)?.tid ?? -1, s.startNs[i], s.endNs[i], s.row[i], label.name, label.fused, s.endRow[i] < 0 ? 1 : 0, s.endRow[i]];
  });
}

function checkOpStats(p: Profile, spans: RefSpan[], counters: Map<string, number[]>): void {
  const keys = [...new Set(spans.map(([, , , , name, fused]) => `${name}/${fused}`))];
  assert.equal(p.ops.length, keys.length);
  for (const key of keys) {
    const mine = spans.filter(([, , , , name, fused]) => `${name}/${fused}` === key);
    const durations = mine.map(([, start, end]) => end - start).sort((a, b) => a - b);
    const stat = p.ops.find((o) => `${o.op}/${o.fused}` === key);
    assert.ok(stat, key);
    assert.deepEqual(
      [stat.calls, stat.total_ns, stat.p50_ns, stat.p99_ns, stat.threads],
      [mine.length, durations.reduce((a, b) => a + b, 0), percentile(durations, 0.5), percentile(durations, 0.99), new Set(mine.map(([tid]) => tid)).size],
      key,
    );
    const c = counters.get(key) ?? [0, 0, 0, 0, 0];
    assert.deepEqual(stat.counters, { minor_faults: c[0], major_faults: c[1], voluntary_switches: c[2], involuntary_switches: c[3], cpu_ns: c[4] }, key);
  }
}

function checkNodes(p: Profile): void {
  for (const signature of [SIG_A, SIG_B]) {
    const nodes = p.structures.get(signature.toString(16).padStart(16, "0")) ?? [];
    const expected = NODES.filter((n) => n.signature === signature);
    assert.deepEqual(
      nodes.map((n) => [n.tensor, n.name, n.src, n.ne, n.nb]),
      expected.map((n) => [n.tensor, n.name, n.src, [NODES.indexOf(n) + 1, -2, 2 ** 40, 1], [4, 8, 16, 2 ** 35]]),
    );
  }
  assert.equal(p.leaves.get(SIG_A.toString(16).padStart(16, "0"))?.get(0x500)?.name, "token_embd.weight");
}

for (const seed of [1, 2, 3]) {
  test(`an irregular stream (seed ${seed}): tables, op spans, labels, per-op figures and names match a plain reference`, () => {
    const bytes = irregularStream(seed, 6000);
    const records = referenceRecords(bytes);
    const stream = decodeStream(bytes);
    checkTables(stream, records);
    const p = buildProfile(stream);
    const { spans, counters } = referenceSpans(records);
    assert.ok(spans.some((s) => s[6] === 1) && spans.some((s) => s[5]) && p.pairing.ops.cutByWindow > 0 && p.pairing.ops.unmatchedEnds > 0, "the stream has every case");
    assert.deepEqual(profileSpans(p), spans);
    checkOpStats(p, spans, counters);
    checkNodes(p);
  });
}
