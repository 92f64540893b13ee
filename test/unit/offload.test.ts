import { test } from "node:test";
import assert from "node:assert/strict";
import { findings, findingsText } from "../../extension/profile/findings";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { offloadData } from "../../extension/views/offloadData";
import { breakEvenText, compareOffload, comparisonText, offloadAnalysis } from "../../extension/profile/offload";
import { CopyKind, decodeStream } from "../../extension/profile/stream";
import { DEFAULT_HEADER, DEFAULT_TRAILER, OP, StreamBuilder } from "./streamBuilder";

const HEADER = { ...DEFAULT_HEADER, ops: [...DEFAULT_HEADER.ops, "RESHAPE"] };
const RESHAPE = 7;
const [F32, Q4_0] = [0, 2];
const CPU = 0xc000;
const BLAS = 0xb000;
const CPU_FN = 0x7f0000001000;
const BLAS_FN = 0x7f0000002000;
const TRAILER = {
  ...DEFAULT_TRAILER,
  symbols: [
    { ip: CPU_FN, path: "/lib/libggml-cpu.so", function: "ggml_backend_cpu_graph_compute" },
    { ip: BLAS_FN, path: "/lib/libggml-blas.so", function: "ggml_backend_blas_graph_compute" },
  ],
};
const [W1, W2] = [0xf1, 0xf2];
const weights = (b: StreamBuilder, signature: bigint): StreamBuilder =>
  b
    .graphLeaf({ tid: 7, ts: 1, signature, tensor: W1, type: Q4_0, ne: [256, 256, 1, 1], name: "w1" })
    .graphLeaf({ tid: 7, ts: 1, signature, tensor: W2, type: Q4_0, ne: [256, 768, 1, 1], name: "w2" });

/** A CPU split that ggml_graph_compute ran: each node an op span on threads 7 and 8, `ns` wall time apart. */
function cpuSplit(b: StreamBuilder, t: number, signature: bigint, nodes: { tensor: number; op: number; ne: number[]; src: number[]; ns: number[] }[], tid = 7): number {
  weights(b, signature);
  b.schedGraphBegin({ tid, ts: t, backend: 0x5000, nNodes: nodes.length });
  b.backendGraphBegin({ tid, ts: t + 1, backend: CPU, computeFn: CPU_FN, signature, nNodes: nodes.length });
  b.graphBegin({ tid, ts: t + 2, signature, nNodes: nodes.length });
  nodes.forEach((n, index) => b.graphNode({ tid, ts: t + 2, signature, tensor: n.tensor, index, op: n.op, ne: n.ne, src: n.src }));
  let at = t + 10;
  for (const n of nodes) {
    n.ns.forEach((ns, k) => b.opBegin({ tid: tid + k, ts: at, tensor: n.tensor, op: n.op, ne: n.ne }).opEnd({ tid: tid + k, ts: at + ns, tensor: n.tensor }));
    at += Math.max(...n.ns) + 10;
  }
  b.graphEnd({ tid, ts: at }).backendGraphEnd({ tid, ts: at + 1 });
  return at + 2;
}

/**
 * Batch 64: RMS_NORM on the CPU (wall 400 ns), its result copied (100 ns, f32[256,64]) and w1 set
 * (20 ns, 4096 B) into a BLAS split of 1000 ns with two MUL_MATs of 1:3 FLOPs, the second reading
 * the copy through a RESHAPE.
 */
function blasPrefill(b: StreamBuilder, t: number): number {
  const end = cpuSplit(b, t, 0x11n, [{ tensor: 0xa1, op: OP.RMS_NORM, ne: [256, 64, 1, 1], src: [0xe1], ns: [300, 400] }]);
  b.tensorCopy({ tid: 7, ts: end + 10, endTs: end + 110, src: 0xa1, dst: 0xd1, ne: [256, 64, 1, 1], nb: [4, 1024, 65536, 65536], type: F32, kind: CopyKind.Sync, name: "norm" });
  b.tensorCopy({ tid: 7, ts: end + 120, endTs: end + 140, dst: W1, size: 4096, kind: CopyKind.SetAsync, name: "w1" });
  const s = end + 200;
  weights(b, 0x22n)
    .graphLeaf({ tid: 7, ts: 1, signature: 0x22n, tensor: 0xd1, type: F32, ne: [256, 64, 1, 1], name: "BLAS#norm" })
    .backendGraphBegin({ tid: 7, ts: s, backend: BLAS, computeFn: BLAS_FN, signature: 0x22n, nNodes: 3 })
    .graphNode({ tid: 7, ts: s, signature: 0x22n, tensor: 0xb1, index: 0, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [W1, 0xd1] })
    .graphNode({ tid: 7, ts: s, signature: 0x22n, tensor: 0xb3, index: 1, op: RESHAPE, ne: [256, 64, 1, 1], src: [0xd1] })
    .graphNode({ tid: 7, ts: s, signature: 0x22n, tensor: 0xb2, index: 2, op: OP.MUL_MAT, ne: [768, 64, 1, 1], src: [W2, 0xb3] })
    .backendGraphEnd({ tid: 7, ts: s + 1000 })
    .schedGraphEnd({ tid: 7, ts: s + 1010 });
  return s + 1100;
}

/** Batch 1 on the CPU: MUL_MATs of wall 80 and 120 ns. */
function cpuDecode(b: StreamBuilder, t: number): number {
  const end = cpuSplit(b, t, 0x33n, [
    { tensor: 0xc1, op: OP.MUL_MAT, ne: [256, 1, 1, 1], src: [W1, 0xe2], ns: [80, 60] },
    { tensor: 0xc2, op: OP.MUL_MAT, ne: [768, 1, 1, 1], src: [W2, 0xe2], ns: [100, 120] },
  ]);
  b.schedGraphEnd({ tid: 7, ts: end });
  return end + 100;
}

/** Batch 64 of w1 on the CPU: wall 600 ns. */
function cpuPrefill(b: StreamBuilder, t: number): number {
  const end = cpuSplit(b, t, 0x44n, [{ tensor: 0xc3, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [W1, 0xe3], ns: [600, 550] }]);
  b.schedGraphEnd({ tid: 7, ts: end });
  return end + 100;
}

function profileOf(...parts: ((b: StreamBuilder, t: number) => number)[]): Profile {
  const b = new StreamBuilder(HEADER, 1, 3);
  // Sources the split does not compute are described by leaves; these ones are activations.
  for (const signature of [0x11n, 0x33n, 0x44n]) for (const tensor of [0xe1, 0xe2, 0xe3]) b.graphLeaf({ tid: 7, ts: 1, signature, tensor, type: F32, ne: [256, tensor === 0xe2 ? 1 : 64, 1, 1] });
  let t = 1000;
  for (const part of parts) t = part(b, t);
  return buildProfile(decodeStream(b.trailer(TRAILER).bytes()));
}

const W1_64 = "MUL_MAT f32[256,64] = q4_0[256,256] · f32[256,64]";
const W2_64 = "MUL_MAT f32[768,64] = q4_0[256,768] · f32[256,64]";

test("per class: the BLAS split's time split by FLOPs, copies to the nodes that read them (through views); CPU time from op spans", () => {
  const a = offloadAnalysis(profileOf(blasPrefill, cpuDecode, cpuPrefill));
  assert.deepEqual(a.backends.map((b) => b.name), ["CPU", "BLAS"]);
  const byKey = new Map(a.classes.map((c) => [c.key, c]));
  assert.deepEqual([...byKey.keys()].sort(), [W1_64, W2_64].sort(), "CPU-only classes are left out");
  const w1 = byKey.get(W1_64)!;
  // BLAS: 1000 ns x 1/4 of the FLOPs; copies: half of the 100 ns norm copy (both MUL_MATs read it) and all of w1's 20 ns set.
  assert.deepEqual(
    w1.backends.map((b) => [b.name, b.calls, b.ns, b.copyNs, b.copyBytes, b.perCallNs, b.measured]),
    [
      ["BLAS", 1, 250, 70, 65536 / 2 + 4096, 320, false],
      ["CPU", 1, 600, 0, 0, 600, true],
    ],
  );
  const w2 = byKey.get(W2_64)!;
  assert.deepEqual(w2.backends.map((b) => [b.name, b.ns, b.copyNs, b.copyBytes]), [["BLAS", 750, 50, 65536 / 2]]);
});

test("break-even per op and shape: batch 1 stayed on the CPU, batch 64 ran on both, BLAS faster per call with its copies", () => {
  const a = offloadAnalysis(profileOf(blasPrefill, cpuDecode, cpuPrefill));
  assert.deepEqual(a.ops.map((o) => o.op), ["MUL_MAT"], "RMS_NORM never left the CPU");
  const [mulMat] = a.ops;
  assert.deepEqual(mulMat.ranges, [
    { backends: "CPU", from: 1, to: 1 },
    { backends: "BLAS+CPU", from: 64, to: 64 },
  ]);
  assert.deepEqual(
    mulMat.rows.map((r) => [r.batch, r.key, r.backends.map((b) => [b.name, b.calls, b.perCallNs])]),
    [
      [1, "MUL_MAT f32[256] = q4_0[256,256] · f32[256]", [["CPU", 1, 80]]],
      [1, "MUL_MAT f32[768] = q4_0[256,768] · f32[256]", [["CPU", 1, 120]]],
      [64, W1_64, [["BLAS", 1, 320], ["CPU", 1, 600]]],
      [64, W2_64, [["BLAS", 1, 800]]],
    ],
  );
  assert.match(
    breakEvenText(a).join("\n"),
    /MUL_MAT\s+batch\s+64\s+f32\[256,64\] = q4_0\[256,256\] · f32\[256,64\]\n\s+BLAS 0\.3 µs\/call incl\. 36\.0 KiB of copies \(1 call, from split time\)\s+\|\s+CPU 0\.6 µs\/call \(1 call\)/,
  );
});

test("the offload finding: batches per backend, and the verdict where a batch ran on both; evidence opens the offload panel", () => {
  const p = profileOf(blasPrefill, cpuDecode, cpuPrefill);
  const offload = findings(p, null).find((f) => f.kind === "offload")!;
  assert.equal(offload.title, "offload: MUL_MAT ran on CPU at batch 1, BLAS+CPU at batch 64");
  assert.deepEqual(offload.evidence, [{ kind: "offload", op: "MUL_MAT" }]);
  assert.equal(offload.numbers.compared_shapes, 1);
  assert.equal(offload.numbers.loss_ms, 0);
  assert.ok(offload.details.includes("  batch 64: BLAS 0.6 µs/call incl. 34.0 KiB of copies (2 calls, from split time) over 2 shape(s)"), offload.details.join("\n"));
  assert.ok(offload.details.some((d) => /^ {2}f32\[256,64\] = q4_0\[256,256\] · f32\[256,64\]: BLAS 0\.3 µs\/call .* vs CPU 0\.6 µs\/call .*: offload paid$/.test(d)), offload.details.join("\n"));
  assert.match(findingsText([offload], 0).join("\n"), /evidence: offload panel MUL_MAT/);
});

test("the finding says when the offload lost: the CPU split faster than BLAS with its copies", () => {
  const slowCpu = (b: StreamBuilder, t: number): number => {
    const end = cpuSplit(b, t, 0x44n, [{ tensor: 0xc3, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [W1, 0xe3], ns: [200, 150] }]);
    b.schedGraphEnd({ tid: 7, ts: end });
    return end + 100;
  };
  const offload = findings(profileOf(blasPrefill, slowCpu), null).find((f) => f.kind === "offload")!;
  assert.match(offload.title, /^offload did not pay off for some shapes of MUL_MAT/);
  // w1 at batch 64: BLAS 320 ns per call with its copies against the CPU's 200.
  assert.equal(offload.numbers.loss_ms, (320 - 200) / 1e6);
  assert.ok(offload.details.some((d) => d.includes("offload did not pay")));
});

test("a profile where no batch ran on both backends says so and points at diff", () => {
  const offload = findings(profileOf(blasPrefill, cpuDecode), null).find((f) => f.kind === "offload")!;
  assert.equal(offload.numbers.compared_shapes, 0);
  assert.ok(offload.details.some((d) => d.includes("'ggml-lens diff' against a CPU-only run")));
});

test("a CPU-only profile has no offload", () => {
  const p = profileOf(cpuDecode, cpuPrefill);
  assert.deepEqual(offloadAnalysis(p).ops, []);
  assert.equal(findings(p, null).find((f) => f.kind === "offload")?.title, "no offload in this profile");
});

test("across two profiles: the CPU-only run's class against the offload run's, per call with copies", () => {
  const c = compareOffload(profileOf(cpuPrefill), profileOf(blasPrefill));
  assert.deepEqual(
    c.classes.map((k) => [k.key, k.before.name, k.before.perCallNs, k.after.name, k.after.perCallNs, k.ratio]),
    [[W1_64, "CPU", 600, "BLAS", 320, 320 / 600]],
  );
  assert.deepEqual([c.afterFaster, c.savedNs], [1, 600 - 320]);
  assert.match(comparisonText(c).join("\n"), /after faster for 1 of 1 classes; the after run's calls of them took 0\.3 µs less/);
  const reverse = compareOffload(profileOf(blasPrefill), profileOf(cpuPrefill));
  assert.deepEqual([reverse.afterFaster, reverse.savedNs], [0, 320 - 600]);
  assert.match(comparisonText(c).join("\n"), /before CPU 0\.6 µs\/call \(1 call\)\s+after BLAS 0\.3 µs\/call incl\. 36\.0 KiB of copies \(1 call, from split time\)\s+x0\.53 \(after faster\)/);
});

test("a backend of another traced process (an RPC server's CPU) is listed per class but not compared: it computes the inside of the remote backend", () => {
  const serverPrefill = (b: StreamBuilder, t: number): number => {
    b.thread({ tid: 20, ts: t, pid: 5555 }).thread({ tid: 21, ts: t, pid: 5555 });
    const end = cpuSplit(b, t, 0x44n, [{ tensor: 0xc3, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [W1, 0xe3], ns: [100, 90] }], 20);
    b.schedGraphEnd({ tid: 20, ts: end });
    return end + 100;
  };
  const a = offloadAnalysis(profileOf(blasPrefill, serverPrefill));
  assert.deepEqual(a.backends.map((b) => [b.name, b.pid]), [["CPU (pid 4242)", 4242], ["BLAS", 4242], ["CPU (pid 5555)", 5555]]);
  assert.deepEqual(a.classes.find((c) => c.key === W1_64)?.backends.map((b) => [b.name, b.perCallNs]), [["CPU (pid 5555)", 100], ["BLAS", 320]]);
  assert.deepEqual(a.ops[0].rows.map((r) => [r.batch, r.backends.map((b) => b.name)]), [[64, ["BLAS"]], [64, ["BLAS"]]], "the server's calls are not a CPU alternative");
});

test("a split reading another split's result in place (no copy, as BLAS reads host memory) describes it from that split", () => {
  const inPlace = (b: StreamBuilder, t: number): number => {
    const end = cpuSplit(b, t, 0x11n, [{ tensor: 0xa1, op: OP.RMS_NORM, ne: [256, 64, 1, 1], src: [0xe1], ns: [300, 400] }]);
    weights(b, 0x55n)
      .backendGraphBegin({ tid: 7, ts: end + 10, backend: BLAS, computeFn: BLAS_FN, signature: 0x55n, nNodes: 1 })
      .graphNode({ tid: 7, ts: end + 10, signature: 0x55n, tensor: 0xb1, index: 0, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [W1, 0xa1] })
      .backendGraphEnd({ tid: 7, ts: end + 510 })
      .schedGraphEnd({ tid: 7, ts: end + 520 });
    return end + 600;
  };
  const p = profileOf(inPlace);
  assert.deepEqual(p.structures.get(p.backendSpans[1].signature)?.[0].srcTypes, ["q4_0", ""], "the split alone does not describe src1");
  assert.deepEqual(offloadAnalysis(p).classes.map((c) => [c.key, c.backends.map((b) => [b.name, b.perCallNs])]), [[W1_64, [["BLAS", 500]]]]);
});

test("a finding over many offloaded ops names the backend and the ops with the most offloaded time; evidence for the first three", () => {
  const wholeLayer = (b: StreamBuilder, t: number): number => {
    const node = (tensor: number, index: number, op: number, src: number[]) => ({ tid: 7, ts: t, signature: 0x66n, tensor, index, op, ne: [256, 64, 1, 1], src });
    weights(b, 0x66n)
      .graphLeaf({ tid: 7, ts: 1, signature: 0x66n, tensor: 0xe1, type: F32, ne: [256, 64, 1, 1] })
      .schedGraphBegin({ tid: 7, ts: t, backend: 0x5000, nNodes: 4 })
      .backendGraphBegin({ tid: 7, ts: t + 1, backend: BLAS, computeFn: BLAS_FN, signature: 0x66n, nNodes: 4 })
      .graphNode(node(0xb1, 0, OP.MUL_MAT, [W1, 0xe1]))
      .graphNode(node(0xb2, 1, OP.ADD, [0xb1, 0xe1]))
      .graphNode(node(0xb3, 2, OP.MUL, [0xb2, 0xe1]))
      .graphNode(node(0xb4, 3, OP.RMS_NORM, [0xb3]))
      .backendGraphEnd({ tid: 7, ts: t + 100_001 })
      .schedGraphEnd({ tid: 7, ts: t + 100_010 });
    return t + 100_100;
  };
  const offload = findings(profileOf(wholeLayer), null).find((f) => f.kind === "offload")!;
  assert.equal(offload.title, "offload: 4 ops ran on BLAS, most time in MUL_MAT, RMS_NORM");
  assert.deepEqual(offload.evidence.map((e) => e.kind === "offload" && e.op), ["MUL_MAT", "RMS_NORM", "ADD"]);
  assert.equal(offload.numbers.ops, 4);
  // FLOPs: MUL_MAT 2*256*256*64, ADD and MUL one per element, RMS_NORM three.
  const elements = 256 * 64;
  const flops = [2 * 256 * elements, elements, elements, 3 * elements];
  const share = flops[3] / flops.reduce((a, b) => a + b, 0);
  assert.ok(offload.details.includes(`  batch 64: BLAS ${((100_000 * share) / 1e3).toFixed(1)} µs/call (1 call, from split time) over 1 shape(s)`), offload.details.join("\n"));
});

test("the offload panel's break-even rows: per offloaded op and shape, copies per call", () => {
  const rows = offloadData(profileOf(blasPrefill, cpuDecode, cpuPrefill), "t.ggmlprof").breakEven;
  assert.deepEqual(
    rows.filter((r) => r.batch === 64).map((r) => [r.op, r.shape, r.backends.map((b) => [b.name, b.calls, b.perCallNs, b.copyBytes, b.measured])]),
    [
      ["MUL_MAT", W1_64.replace("MUL_MAT ", ""), [["BLAS", 1, 320, 65536 / 2 + 4096, false], ["CPU", 1, 600, 0, true]]],
      ["MUL_MAT", W2_64.replace("MUL_MAT ", ""), [["BLAS", 1, 800, 65536 / 2, false]]],
    ],
  );
  assert.deepEqual(offloadData(profileOf(cpuDecode), "cpu.ggmlprof").breakEven, [], "nothing offloaded");
});

test("a remote backend's split (RPC) is timed by the traced server's op spans of the same nodes, its copies still its own", () => {
  const RPC = 0xd000;
  const RPC_FN = 0x7f0000003000;
  const rpc = (b: StreamBuilder, t: number): number => {
    weights(b, 0x77n)
      .graphLeaf({ tid: 7, ts: 1, signature: 0x77n, tensor: 0xe1, type: F32, ne: [256, 64, 1, 1] })
      .schedGraphBegin({ tid: 7, ts: t, backend: 0x5000, nNodes: 1 })
      .tensorCopy({ tid: 7, ts: t + 1, endTs: t + 41, src: 0, dst: 0xe1, ne: [256, 64, 1, 1], nb: [4, 1024, 65536, 65536], type: F32, kind: CopyKind.Async, name: "inp" })
      .backendGraphBegin({ tid: 7, ts: t + 50, backend: RPC, computeFn: RPC_FN, signature: 0x77n, nNodes: 1 })
      .graphNode({ tid: 7, ts: t, signature: 0x77n, tensor: 0xb1, index: 0, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [W1, 0xe1] })
      .backendGraphEnd({ tid: 7, ts: t + 60 })
      .schedGraphEnd({ tid: 7, ts: t + 70 });
    b.thread({ tid: 20, ts: t, pid: 5555 }).thread({ tid: 21, ts: t, pid: 5555 });
    // The server's copy of the graph: its own addresses, the same op.
    return cpuSplit(b, t + 80, 0x88n, [{ tensor: 0x9b1, op: OP.MUL_MAT, ne: [256, 64, 1, 1], src: [0x9f1, 0x9e1], ns: [700, 650] }], 20) + 100;
  };
  const trailer = { ...TRAILER, symbols: [...TRAILER.symbols, { ip: RPC_FN, path: "/lib/libggml-rpc.so", function: "ggml_backend_rpc_graph_compute" }] };
  const b = new StreamBuilder(HEADER, 1, 3);
  rpc(b, 1000);
  const p = buildProfile(decodeStream(b.trailer(trailer).bytes()));
  const a = offloadAnalysis(p);
  const rpcClass = a.classes.find((c) => c.key === W1_64)!;
  assert.deepEqual(
    rpcClass.backends.map((x) => [x.name, x.calls, x.ns, x.copyNs, x.measured]),
    [["RPC", 1, 700, 40, true]],
    "the server's 700 ns wall, not the client's 10 ns hand-over; the 40 ns copy before the split",
  );
});
