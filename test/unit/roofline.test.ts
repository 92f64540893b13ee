/**
 * Roofline analysis on streams built record by record: op instances from the spans of all threads,
 * classes by op, types and shapes, rates over instance wall time, verdicts against given ceilings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { analyze, boundOf, formatOpRates, memoryRoof, type OpClass } from "../../extension/profile/roofline";
import { DEFAULT_HEADER, StreamBuilder } from "./streamBuilder";
import { ceilings as testCeilings } from "./decodeRuns";

const OPS = ["NONE", "ADD", "MUL", "RMS_NORM", "MUL_MAT", "MUL_MAT_ID"];
const OP = { ADD: 1, MUL: 2, RMS_NORM: 3, MUL_MAT: 4, MUL_MAT_ID: 5 } as const;
const TYPES = [
  { name: "f32", blck_size: 1, type_size: 4, is_quantized: false },
  { name: "f16", blck_size: 1, type_size: 2, is_quantized: false },
  { name: "q4_0", blck_size: 32, type_size: 18, is_quantized: true },
  { name: "q8_0", blck_size: 32, type_size: 34, is_quantized: true },
  { name: "i32", blck_size: 1, type_size: 4, is_quantized: false },
];
const TYPE = { f32: 0, q4_0: 2, i32: 4 } as const;
const SIG = 0x51600000000001n;
const SIG_MOE = 0x51600000000002n;

/** Ceilings of an imaginary 2-core machine, round numbers to check by hand. */

function builder(): StreamBuilder {
  return new StreamBuilder({ ...DEFAULT_HEADER, ops: OPS, types: TYPES }, 1, 2);
}

/** RMS_NORM -> MUL (fused) -> MUL_MAT by q4_0 weights [256, 64], on 2 tokens. */
function denseStructure(b: StreamBuilder): StreamBuilder {
  const c = { tid: 1, ts: 900, signature: SIG };
  return b
    .graphNode({ ...c, index: 0, tensor: 0x100, op: OP.RMS_NORM, ne: [256, 2, 1, 1], src: [0x900] })
    .graphLeaf({ ...c, tensor: 0x900, type: TYPE.f32, ne: [256, 2, 1, 1], consumer: 0, name: "inp" })
    .graphNode({ ...c, index: 1, tensor: 0x200, op: OP.MUL, ne: [256, 2, 1, 1], src: [0x100, 0x901] })
    .graphLeaf({ ...c, tensor: 0x901, type: TYPE.f32, ne: [256, 1, 1, 1], consumer: 1, name: "norm.weight" })
    .graphNode({ ...c, index: 2, tensor: 0x300, op: OP.MUL_MAT, ne: [64, 2, 1, 1], src: [0x902, 0x200] })
    .graphLeaf({ ...c, tensor: 0x902, type: TYPE.q4_0, ne: [256, 64, 1, 1], consumer: 2, name: "w" });
}

function span(b: StreamBuilder, tid: number, start: number, end: number, tensor: number, op: number, tensor2 = 0): void {
  b.opBegin({ tid, ts: start, tensor, tensor2, op, flags: tensor2 ? 1 : 0 });
  b.opEnd({ tid, ts: end, tensor });
}

/** Two runs of the dense graph on two threads, and one span before any graph. */
function denseProfile(): Profile {
  const b = denseStructure(builder());
  span(b, 1, 500, 600, 0x999, OP.ADD);
  for (const [at, fusedEnds, matmul] of [
    [1_000, [4_000, 5_000], [16_000, 15_000]],
    [100_000, [103_000, 104_000], [111_000, 110_000]],
  ] as const) {
    b.graphBegin({ tid: 1, ts: at, signature: SIG, nNodes: 3 });
    span(b, 1, at + 1_000, fusedEnds[0], 0x100, OP.RMS_NORM, 0x200);
    span(b, 2, at + (at === 1_000 ? 1_500 : 1_000), fusedEnds[1], 0x100, OP.RMS_NORM, 0x200);
    span(b, 1, at + 5_000, matmul[0], 0x300, OP.MUL_MAT);
    span(b, 2, at + (at === 1_000 ? 5_500 : 5_000), matmul[1], 0x300, OP.MUL_MAT);
    b.graphEnd({ tid: 1, ts: at + 29_000 });
  }
  return buildProfile(decodeStream(b.trailer().bytes()));
}

function classOf(classes: OpClass[], op: string): OpClass {
  const found = classes.find((c) => c.op === op);
  assert.ok(found, `${op} in ${classes.map((c) => c.key).join("; ")}`);
  return found;
}

test("classes: instances are a node of a graph run over all threads; rates over their wall time", () => {
  const a = analyze(denseProfile(), testCeilings());
  const matmul = classOf(a.classes, "MUL_MAT");
  assert.equal(matmul.shape, "f32[64,2] = q4_0[256,64] · f32[256,2]");
  assert.deepEqual([matmul.calls, matmul.instances, matmul.threads], [4, 2, 2]);
  assert.equal(matmul.wall_ns, 10_000 + 6_000, "first thread's start to last thread's end, per run");
  assert.equal(matmul.total_ns, 10_000 + 8_500 + 6_000 + 5_000);
  assert.equal(matmul.flops, 2 * 256 * 64 * 2);
  assert.equal(matmul.bytes, 8 * 18 * 64 + 256 * 2 * 4 + 64 * 2 * 4);
  assert.ok(Math.abs((matmul.gflops ?? 0) - (2 * 65_536) / 16_000) < 1e-12);
  assert.ok(Math.abs((matmul.gbps ?? 0) - (2 * 11_776) / 16_000) < 1e-12);
  assert.ok(Math.abs((matmul.intensity ?? 0) - 65_536 / 11_776) < 1e-12);
  assert.equal(matmul.conversion?.to, "q8_0");
});

test("a fused span counts both nodes: FLOPs of both, bytes without the intermediate", () => {
  const fused = classOf(analyze(denseProfile(), testCeilings()).classes, "RMS_NORM+MUL");
  assert.equal(fused.fused, true);
  assert.equal(fused.flops, 3 * 512 + 512);
  assert.equal(fused.bytes, 2048 + 1024 + 2048, "input, weight, result");
  assert.equal(fused.wall_ns, 3_000 + 3_000);
});

test("every span lands in a class; spans outside any graph make their own, with unknown costs", () => {
  const profile = denseProfile();
  const a = analyze(profile, testCeilings());
  assert.equal(a.classes.reduce((n, c) => n + c.calls, 0), profile.spans.count);
  assert.ok(Math.abs(a.classes.reduce((n, c) => n + c.share, 0) - 1) < 1e-12);
  const outside = classOf(a.classes, "ADD");
  assert.match(outside.shape, /no graph structure recorded/);
  assert.deepEqual([outside.flops, outside.bytes, outside.bound.verdict], [null, null, "unknown"]);
  assert.match(a.assumptions.join("\n"), /1 op spans ran outside any recorded graph/);
});

test("the per-op rollup is Profile.ops plus rates, and reads as the editor shows it", () => {
  const profile = denseProfile();
  const a = analyze(profile, testCeilings());
  assert.deepEqual(a.ops.map((o) => [o.op, o.calls, o.total_ns]), profile.ops.map((o) => [o.op, o.calls, o.total_ns]));
  const matmul = a.ops.find((o) => o.op === "MUL_MAT");
  assert.ok(matmul);
  assert.equal(matmul.instances, 2);
  assert.equal(formatOpRates(matmul), "MUL_MAT 75.4% · 4 calls · 7 µs avg · 8.19 GFLOP/s · 1.47 GB/s · neither");
});

test("verdicts: the nearer roof once reached to NEAR_ROOF, neither below both, unknown without ceilings", () => {
  const c = testCeilings();
  const far = { threads: 2, graphBytes: 100 << 20 };
  const dram = boundOf({ ...far, gflops: 1, gbps: 12, intensity: 1 / 12 }, c);
  assert.deepEqual([dram.verdict, dram.roof, dram.fraction], ["memory-bound", "DRAM", 12 / 15]);
  assert.equal(dram.attainable_gflops, Math.min(200, 15 / 12));
  const compute = boundOf({ ...far, gflops: 150, gbps: 5, intensity: 30 }, c);
  assert.deepEqual([compute.verdict, compute.roof, compute.fraction], ["compute-bound", "compute", 0.75]);
  const idle = boundOf({ ...far, gflops: 2, gbps: 1, intensity: 2 }, c);
  assert.equal(idle.verdict, "neither");
  assert.match(idle.reason, /latency, synchronization or idle/);
  const oneThread = boundOf({ threads: 1, graphBytes: 100 << 20, gflops: null, gbps: 8, intensity: null }, c);
  assert.deepEqual([oneThread.verdict, oneThread.fraction], ["memory-bound", 0.8], "one thread: the one-thread roof");
  assert.equal(boundOf({ ...far, gflops: 1, gbps: 1, intensity: 1 }, null).verdict, "unknown");
  assert.equal(boundOf({ ...far, gflops: null, gbps: null, intensity: null }, c).verdict, "unknown");
});

test("memory roof: the level that holds one graph run's bytes, or a faster one the op evidently reached", () => {
  const c = testCeilings();
  assert.deepEqual(memoryRoof(c, 1, 512 << 10, 60), { level: "L2", gbps: 100 });
  assert.deepEqual(memoryRoof(c, 1, 512 << 10, 150), { level: "L1", gbps: 200 }, "above the L2 roof: served from L1");
  assert.deepEqual(memoryRoof(c, 2, 80 << 10, 1), { level: "L1", gbps: 400 }, "L1 of two cores holds 96 KiB");
  assert.deepEqual(memoryRoof(c, 2, 16 << 20, 1), { level: "L3", gbps: 80 });
  assert.deepEqual(memoryRoof(c, 2, 1 << 30, 1), { level: "DRAM", gbps: 15 });
});

test("MUL_MAT_ID: weight bytes over the distinct experts the run's selection used", () => {
  const b = builder();
  const c = { tid: 1, ts: 900, signature: SIG_MOE };
  b.graphNode({ ...c, index: 0, tensor: 0x500, op: OP.MUL_MAT_ID, ne: [128, 2, 3, 1], src: [0x910, 0x911, 0x912] })
    .graphLeaf({ ...c, tensor: 0x910, type: TYPE.q4_0, ne: [256, 128, 8, 1], name: "ffn_up_exps" })
    .graphLeaf({ ...c, tensor: 0x911, type: TYPE.f32, ne: [256, 1, 3, 1], name: "x" })
    .graphLeaf({ ...c, tensor: 0x912, type: TYPE.i32, ne: [2, 3, 1, 1], name: "ids" })
    .graphBegin({ tid: 1, ts: 1_000, signature: SIG_MOE, nNodes: 1 })
    .opBegin({ tid: 1, ts: 2_000, tensor: 0x500, op: OP.MUL_MAT_ID })
    .expertIds({ tid: 1, ts: 2_000, tensor: 0x500, nUsed: 2, nTokens: 3, ids: [0, 1, 1, 2, 0, 3] })
    .opEnd({ tid: 1, ts: 12_000, tensor: 0x500 })
    .graphEnd({ tid: 1, ts: 13_000 });
  const moe = classOf(analyze(buildProfile(decodeStream(b.trailer().bytes())), testCeilings()).classes, "MUL_MAT_ID");
  assert.equal(moe.flops, 2 * 256 * 128 * 2 * 3);
  assert.equal(moe.bytes, 4 * (8 * 18 * 128) + 256 * 3 * 4 + 6 * 4 + 128 * 6 * 4, "experts 0-3 of 8");
  assert.deepEqual(moe.notes, []);
});

test("without ceilings: rates, no verdicts", () => {
  const a = analyze(denseProfile(), null);
  assert.equal(a.ceilings, null);
  assert.ok(a.classes.every((c) => c.bound.verdict === "unknown"));
  assert.ok((classOf(a.classes, "MUL_MAT").gflops ?? 0) > 0);
});

test("speed: analyze 300k spans (100-node graph, 1,500 runs, 2 threads)", () => {
  const b = builder();
  const nodes = 100;
  for (let i = 0; i < nodes; i++) {
    b.graphNode({ tid: 1, ts: 1, signature: SIG, index: i, tensor: 0x1000 + 16 * i, op: OP.ADD, ne: [256, 1, 1, 1], src: [i ? 0x1000 + 16 * (i - 1) : 0x900, 0x900] });
  }
  b.graphLeaf({ tid: 1, ts: 1, signature: SIG, tensor: 0x900, type: TYPE.f32, ne: [256, 1, 1, 1] });
  let ts = 10;
  for (let run = 0; run < 1_500; run++) {
    b.graphBegin({ tid: 1, ts, signature: SIG, nNodes: nodes });
    for (let i = 0; i < nodes; i++, ts += 10) for (const tid of [1, 2]) span(b, tid, ts + 1, ts + 5, 0x1000 + 16 * i, OP.ADD);
    b.graphEnd({ tid: 1, ts: ts++ });
  }
  const profile = buildProfile(decodeStream(b.trailer().bytes()));
  analyze(profile, testCeilings());
  const started = performance.now();
  const a = analyze(profile, testCeilings());
  const ms = performance.now() - started;
  console.log(`analyze: ${profile.spans.count} spans in ${ms.toFixed(0)} ms (${((profile.spans.count / ms) * 1e3 / 1e6).toFixed(2)} M spans/s)`);
  assert.equal(a.classes.reduce((n, c) => n + c.calls, 0), 300_000);
  assert.equal(a.classes.reduce((n, c) => n + c.instances, 0), 150_000, "two threads' spans of a node in a run are one instance");
});
