import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, percentile, type OpStat, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { benchStream, eventRate, OP, StreamBuilder } from "./streamBuilder";

const SIG_A = 0xaaaa000000000001n;
const SIG_B = 0xbbbb000000000002n;

function profileOf(builder: StreamBuilder): Profile {
  return buildProfile(decodeStream(builder.bytes()));
}

function spansOf(p: Profile, tid: number): [number, number, string, number][] {
  const lane = p.threads.find((l) => l.tid === tid);
  assert.ok(lane, `thread ${tid}`);
  const out: [number, number, string, number][] = [];
  for (let s = lane.first; s < lane.first + lane.count; s++) {
    out.push([p.spans.startNs[s], p.spans.endNs[s], p.labels[p.spans.label[s]].name, p.spans.endRow[s] < 0 ? 1 : 0]);
  }
  return out;
}

function stat(p: Profile, op: string, fused = false): OpStat {
  const found = p.ops.find((s) => s.op === op && s.fused === fused);
  assert.ok(found, `${op} fused=${fused} in ${JSON.stringify(p.ops.map((s) => [s.op, s.fused]))}`);
  return found;
}

test("op spans pair begin and end per thread; a begin after a begin closes the first, unterminated", () => {
  const b = new StreamBuilder()
    .opBegin({ tid: 1, ts: 100, tensor: 0xa, op: OP.ADD })
    .opBegin({ tid: 2, ts: 120, tensor: 0xa, op: OP.ADD })
    .opEnd({ tid: 1, ts: 150, tensor: 0xa })
    .opBegin({ tid: 1, ts: 200, tensor: 0xb, op: OP.MUL })
    .opEnd({ tid: 2, ts: 210, tensor: 0xa })
    .opBegin({ tid: 1, ts: 260, tensor: 0xc, op: OP.MUL_MAT })
    .opEnd({ tid: 3, ts: 270, tensor: 0xc })
    .opEnd({ tid: 1, ts: 300, tensor: 0xc })
    .opBegin({ tid: 2, ts: 400, tensor: 0xd, op: OP.SOFT_MAX })
    .trailer();
  const p = profileOf(b);
  assert.deepEqual(p.threads.map((l) => l.tid), [1, 2]);
  assert.deepEqual(spansOf(p, 1), [
    [100, 150, "ADD", 0],
    [200, 260, "MUL", 1],
    [260, 300, "MUL_MAT", 0],
  ]);
  assert.deepEqual(spansOf(p, 2), [[120, 210, "ADD", 0]]);
  assert.deepEqual(p.pairing.ops, { paired: 3, unterminated: 1, unmatchedEnds: 1, openAtEnd: 1, cutByWindow: 0 });
  assert.equal(p.spans.count, 4);
  assert.deepEqual(
    Array.from(p.spans.row),
    [0, 2, 3, 1],
    "rows point back at the OP_BEGIN records",
  );
});

test("a span left open when op tracing was switched off is dropped, not stretched to the next window", () => {
  const b = new StreamBuilder()
    .window({ tid: 0, ts: 0, on: true })
    .opBegin({ tid: 1, ts: 100, tensor: 0xa, op: OP.ADD })
    .opEnd({ tid: 1, ts: 150, tensor: 0xa })
    .opBegin({ tid: 1, ts: 200, tensor: 0xb, op: OP.MUL })
    .window({ tid: 0, ts: 300, on: false })
    .window({ tid: 0, ts: 5000, on: true })
    .opBegin({ tid: 1, ts: 5100, tensor: 0xc, op: OP.MUL_MAT })
    .opBegin({ tid: 1, ts: 5200, tensor: 0xd, op: OP.ADD })
    .opEnd({ tid: 1, ts: 5250, tensor: 0xd })
    .trailer();
  const p = profileOf(b);
  assert.deepEqual(spansOf(p, 1), [
    [100, 150, "ADD", 0],
    [5100, 5200, "MUL_MAT", 1],
    [5200, 5250, "ADD", 0],
  ]);
  assert.deepEqual(p.pairing.ops, { paired: 2, unterminated: 1, unmatchedEnds: 0, openAtEnd: 0, cutByWindow: 1 });
});

test("fused spans are named FIRST+SECOND from the graph computing at the time", () => {
  const b = new StreamBuilder()
    .graphBegin({ tid: 1, ts: 0, signature: SIG_A, nNodes: 2 })
    .graphNode({ tid: 1, ts: 1, signature: SIG_A, tensor: 0x10, index: 0, op: OP.RMS_NORM })
    .graphNode({ tid: 1, ts: 1, signature: SIG_A, tensor: 0x11, index: 1, op: OP.MUL })
    .opBegin({ tid: 1, ts: 10, tensor: 0x10, tensor2: 0x11, flags: 1, op: OP.RMS_NORM })
    .opEnd({ tid: 1, ts: 20, tensor: 0x10 })
    .graphEnd({ tid: 1, ts: 30 })
    .graphBegin({ tid: 1, ts: 1000, signature: SIG_B, nNodes: 2 })
    .graphNode({ tid: 1, ts: 1001, signature: SIG_B, tensor: 0x10, index: 0, op: OP.RMS_NORM })
    .graphNode({ tid: 1, ts: 1001, signature: SIG_B, tensor: 0x11, index: 1, op: OP.ADD })
    .opBegin({ tid: 1, ts: 1010, tensor: 0x10, tensor2: 0x11, flags: 1, op: OP.RMS_NORM })
    .opEnd({ tid: 1, ts: 1040, tensor: 0x10 })
    .graphEnd({ tid: 1, ts: 1050 })
    .graphBegin({ tid: 1, ts: 2000, signature: SIG_A, nNodes: 2 })
    .opBegin({ tid: 1, ts: 2010, tensor: 0x10, tensor2: 0x11, flags: 1, op: OP.RMS_NORM })
    .opEnd({ tid: 1, ts: 2015, tensor: 0x10 })
    .opBegin({ tid: 1, ts: 2020, tensor: 0x10, tensor2: 0x99, flags: 1, op: OP.RMS_NORM })
    .opEnd({ tid: 1, ts: 2027, tensor: 0x10 })
    .opBegin({ tid: 1, ts: 2030, tensor: 0x10, op: OP.RMS_NORM })
    .opEnd({ tid: 1, ts: 2032, tensor: 0x10 })
    .graphEnd({ tid: 1, ts: 2050 })
    .trailer();
  const p = profileOf(b);
  assert.deepEqual(
    spansOf(p, 1).map(([start, , name]) => [start, name]),
    [
      [10, "RMS_NORM+MUL"],
      [1010, "RMS_NORM+ADD"],
      [2010, "RMS_NORM+MUL"],
      [2020, "RMS_NORM"],
      [2030, "RMS_NORM"],
    ],
  );
  assert.deepEqual([stat(p, "RMS_NORM+MUL", true).calls, stat(p, "RMS_NORM+MUL", true).total_ns], [2, 15]);
  assert.equal(stat(p, "RMS_NORM+ADD", true).total_ns, 30);
  assert.equal(stat(p, "RMS_NORM", true).total_ns, 7, "second op unknown: first op's name, flagged fused");
  assert.equal(stat(p, "RMS_NORM", false).total_ns, 2);
  assert.deepEqual(
    p.graphs.map((g) => [g.startNs, g.endNs, g.signature, g.status]),
    [
      [0, 30, "aaaa000000000001", 0],
      [1000, 1050, "bbbb000000000002", 0],
      [2000, 2050, "aaaa000000000001", 0],
    ],
  );
});

test("op begins written without their shape take op, type and shape from the graph running; an unknown tensor is reported", () => {
  const b = new StreamBuilder(undefined, 2, 1)
    .graphBegin({ tid: 1, ts: 0, signature: SIG_A, nNodes: 1 })
    .graphNode({ tid: 1, ts: 1, signature: SIG_A, tensor: 0x10, index: 0, op: OP.MUL_MAT, type: 1, ne: [64, 7, 1, 1] })
    .opBegin({ tid: 1, ts: 10, tensor: 0x10, flags: 2, op: -1, type: -1, ne: [0, 0, 0, 0] })
    .opEnd({ tid: 1, ts: 20, tensor: 0x10 })
    .graphEnd({ tid: 1, ts: 30 })
    .graphBegin({ tid: 1, ts: 100, signature: SIG_B, nNodes: 1 })
    .graphNode({ tid: 1, ts: 101, signature: SIG_B, tensor: 0x10, index: 0, op: OP.ADD, type: 0, ne: [64, 1, 1, 1] })
    .opBegin({ tid: 1, ts: 110, tensor: 0x10, flags: 2, op: -1, type: -1, ne: [0, 0, 0, 0] })
    .opEnd({ tid: 1, ts: 115, tensor: 0x10 })
    .opBegin({ tid: 1, ts: 120, tensor: 0x77, flags: 2, op: -1, type: -1, ne: [0, 0, 0, 0] })
    .opEnd({ tid: 1, ts: 121, tensor: 0x77 })
    .opBegin({ tid: 1, ts: 130, tensor: 0x10, op: OP.SOFT_MAX, type: 0, ne: [3, 1, 1, 1] })
    .opEnd({ tid: 1, ts: 131, tensor: 0x10 })
    .graphEnd({ tid: 1, ts: 150 })
    .trailer();
  const p = profileOf(b);
  assert.deepEqual(spansOf(p, 1).map(([start, , name]) => [start, name]), [[10, "MUL_MAT"], [110, "ADD"], [120, "op#-1"], [130, "SOFT_MAX"]]);
  const begin = p.opRecords.begin;
  assert.deepEqual([...begin.type.subarray(0, 4)], [1, 0, -1, 0]);
  assert.deepEqual([...begin.ne.subarray(0, 8)], [64, 7, 1, 1, 64, 1, 1, 1], "each graph's shape");
  assert.deepEqual([...begin.ne.subarray(12, 16)], [3, 1, 1, 1], "a begin with its shape keeps it");
  assert.equal(p.errors.length, 1);
  assert.match(p.errors[0], /^1 op span\(s\) ran on tensors that no recorded graph structure describes.*--live-shapes/);
});

test("per-op table: hand-computed totals, shares, means and percentiles", () => {
  const b = new StreamBuilder();
  const add = [30, 10, 100, 20, 50, 40, 90, 60, 80, 70];
  let ts = 0;
  for (const d of add) b.opBegin({ tid: 1, ts, tensor: 1, op: OP.ADD }).opEnd({ tid: 1, ts: (ts += d), tensor: 1 });
  b.opBegin({ tid: 2, ts: 0, tensor: 2, op: OP.MUL_MAT }).opEnd({ tid: 2, ts: 1350, tensor: 2, minFlt: 3, majFlt: 1, cpuNs: 1000 });
  b.opBegin({ tid: 3, ts: 0, tensor: 2, op: OP.MUL_MAT }).opEnd({ tid: 3, ts: 100, tensor: 2, minFlt: 2, nvcsw: 1, nivcsw: 4, cpuNs: 90 });
  const p = profileOf(b.trailer());
  const none = { minor_faults: 0, major_faults: 0, voluntary_switches: 0, involuntary_switches: 0, cpu_ns: 0 };
  const mulMatCounters = { minor_faults: 5, major_faults: 1, voluntary_switches: 1, involuntary_switches: 4, cpu_ns: 1090 };
  assert.deepEqual(p.ops, [
    { op: "MUL_MAT", fused: false, calls: 2, threads: 2, total_ns: 1450, share: 1450 / 2000, mean_ns: 725, p50_ns: 100, p99_ns: 1350, counters: mulMatCounters },
    { op: "ADD", fused: false, calls: 10, threads: 1, total_ns: 550, share: 550 / 2000, mean_ns: 55, p50_ns: 50, p99_ns: 100, counters: none },
  ]);
  assert.equal(p.ops.reduce((sum, s) => sum + s.share, 0), 1);
});

test("percentile is nearest-rank", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 0.5), 50);
  assert.equal(percentile(hundred, 0.99), 99);
  assert.equal(percentile(hundred, 1), 100);
  assert.equal(percentile([1, 2, 3], 0.5), 2);
  assert.equal(percentile([1, 2, 3], 0.99), 3);
  assert.equal(percentile([7], 0.01), 7);
  assert.equal(percentile([], 0.5), 0);
});

test("shares sum to 1 over many ops and threads", () => {
  const b = new StreamBuilder();
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 48271) % 2147483647) % n;
  for (let i = 0; i < 2000; i++) {
    const tid = 1 + next(4);
    const ts = i * 1000;
    b.opBegin({ tid, ts, tensor: i, op: next(7) }).opEnd({ tid, ts: ts + 1 + next(900), tensor: i });
  }
  const p = profileOf(b.trailer());
  assert.ok(Math.abs(p.ops.reduce((sum, s) => sum + s.share, 0) - 1) < 1e-12);
  assert.equal(p.ops.reduce((sum, s) => sum + s.calls, 0), 2000);
  for (const lane of p.threads) {
    for (let s = lane.first + 1; s < lane.first + lane.count; s++) assert.ok(p.spans.startNs[s] > p.spans.startNs[s - 1]);
  }
});

test("tokens: prefill and decode calls, ttft and tpot", () => {
  const b = new StreamBuilder()
    .decodeBegin({ tid: 1, ts: 1000, nTokens: 5 })
    .decodeEnd({ tid: 1, ts: 2000 })
    .decodeBegin({ tid: 1, ts: 2100, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 2300 })
    .decodeBegin({ tid: 1, ts: 2400, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 2600, ret: 1 })
    .decodeBegin({ tid: 1, ts: 2700, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 2900 })
    .decodeBegin({ tid: 1, ts: 5000, nTokens: -1 })
    .decodeEnd({ tid: 1, ts: 5100 })
    .trailer();
  const p = profileOf(b);
  assert.deepEqual(p.tokens, {
    calls: 5,
    tokens: 8,
    prefill: { calls: 1, tokens: 5, totalNs: 1000 },
    decode: { calls: 3, tokens: 3, totalNs: 600 },
    unknownCalls: 1,
    ttftNs: 1000,
    tpotNs: 300,
  });
  assert.deepEqual(
    p.calls.map((c) => [c.kind, c.ret]),
    [
      ["prefill", 0],
      ["decode", 0],
      ["decode", 1],
      ["decode", 0],
      ["unknown", 0],
    ],
  );
});

test("tokens: the warmup call is no part of ttft; a prompt split in back-to-back calls is", () => {
  const ms = 1e6;
  const b = new StreamBuilder()
    .decodeBegin({ tid: 1, ts: 0, nTokens: 2 })
    .decodeEnd({ tid: 1, ts: 5 * ms })
    .decodeBegin({ tid: 1, ts: 9 * ms, nTokens: 512 })
    .decodeEnd({ tid: 1, ts: 20 * ms })
    .decodeBegin({ tid: 1, ts: 20.1 * ms, nTokens: 100 })
    .decodeEnd({ tid: 1, ts: 25 * ms })
    .decodeBegin({ tid: 1, ts: 25.5 * ms, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 27 * ms })
    .decodeBegin({ tid: 1, ts: 27.5 * ms, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 29 * ms });
  const p = profileOf(b);
  assert.equal(p.tokens.ttftNs, 16 * ms);
  assert.equal(p.tokens.tpotNs, 2 * ms);
  assert.deepEqual(p.tokens.prefill, { calls: 3, tokens: 614, totalNs: 20_900_000 });
});

test("tokens without prefill (attached mid-run): no ttft, tpot from the first decode call", () => {
  const b = new StreamBuilder()
    .decodeBegin({ tid: 1, ts: 100, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 200 })
    .decodeBegin({ tid: 1, ts: 300, nTokens: 1 })
    .decodeEnd({ tid: 1, ts: 500 });
  const p = profileOf(b);
  assert.equal(p.tokens.ttftNs, null);
  assert.equal(p.tokens.tpotNs, 200);
  assert.equal(p.truncated, true);
  assert.equal(p.lostEvents, null);
});

test("graph structures, experts, samples and lost events", () => {
  const b = new StreamBuilder()
    .graphBegin({ tid: 1, ts: 0, signature: SIG_A, nNodes: 2 })
    .graphNode({ tid: 1, ts: 1, signature: SIG_A, tensor: 0x20, index: 1, op: OP.MUL_MAT, type: 2, src: [0x10, 0x11], ne: [64, 2, 1, 1], name: "out" })
    .graphNode({ tid: 1, ts: 1, signature: SIG_A, tensor: 0x10, index: 0, op: OP.RMS_NORM, type: 0, name: "norm" })
    .expertIds({ tid: 1, ts: 5, tensor: 0x20, nUsed: 2, nTokens: 2, ids: [1, 3, 0, 2] })
    .sample({ tid: 1, ts: 6, ip: 0x401000, tensor: 0x20 })
    .sched({ tid: 1, ts: 7, kind: 3 })
    .graphEnd({ tid: 1, ts: 9 })
    .trailer();
  const p = profileOf(b);
  const nodes = p.structures.get("aaaa000000000001");
  assert.ok(nodes);
  assert.deepEqual(
    nodes.map((n) => [n.index, n.op, n.type, n.name, n.src, n.ne]),
    [
      [0, "RMS_NORM", "f32", "norm", [], [1, 1, 1, 1]],
      [1, "MUL_MAT", "q4_0", "out", [0x10, 0x11], [64, 2, 1, 1]],
    ],
  );
  assert.deepEqual(p.experts, [{ ts: 5, tid: 1, tensor: 0x20, nUsed: 2, nTokens: 2, ids: [1, 3, 0, 2] }]);
  assert.equal(p.samples.count, 1);
  assert.equal(p.sched.kind[0], 3);
  assert.equal(p.lostEvents, 3);
  assert.equal(p.truncated, false);
  assert.equal(p.header.op_method, "dwarf-inline");
});

test("an empty stream gives an empty profile", () => {
  const p = profileOf(new StreamBuilder().trailer());
  assert.deepEqual(p.ops, []);
  assert.deepEqual(p.threads, []);
  assert.equal(p.tokens.ttftNs, null);
  assert.equal(p.tokens.tpotNs, null);
  assert.equal(p.spans.count, 0);
});

test("decode + profile speed (printed, not asserted)", () => {
  const { bytes, events } = benchStream(1000);
  assert.equal(buildProfile(decodeStream(bytes)).spans.count, 1_000_000);
  console.log(`decode + buildProfile, ${events} events: best of 3 in CPU time: ${eventRate(events, () => buildProfile(decodeStream(bytes)))}`);
});
