import { test } from "node:test";
import assert from "node:assert/strict";
import { backendTimes, copyVolume, nameFromComputeSymbol, tensorBytes } from "../../extension/profile/backends";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { CopyKind, decodeStream, NameKind } from "../../extension/profile/stream";
import { DEFAULT_HEADER, DEFAULT_TRAILER, OP, StreamBuilder } from "./streamBuilder";

const CPU = 0xc000;
const BLAS = 0xb000;
const CPU_FN = 0x7f0000001000;
const BLAS_FN = 0x7f0000002000;
const SPLIT_CPU = 0x1111n;
const SPLIT_BLAS = 0x2222n;
const SCHED = 0x5000;

const TRAILER = {
  ...DEFAULT_TRAILER,
  symbols: [
    { ip: CPU_FN, path: "/lib/libggml-cpu.so", function: "ggml_backend_cpu_graph_compute" },
    { ip: BLAS_FN, path: "/lib/libggml-blas.so", function: "ggml_backend_blas_graph_compute" },
  ],
};

/** One scheduler run: a CPU split computes 0xa1, its result is copied to 0xd1, a BLAS split reads it. */
function twoBackendRun(builder = new StreamBuilder(DEFAULT_HEADER, 1, 3)): StreamBuilder {
  return builder
    .thread({ tid: 7, ts: 50, pid: 4242 })
    .schedGraphBegin({ tid: 7, ts: 100, backend: SCHED, nNodes: 3 })
    .backendGraphBegin({ tid: 7, ts: 110, backend: CPU, computeFn: CPU_FN, signature: SPLIT_CPU, nNodes: 1 })
    .graphNode({ tid: 7, ts: 110, signature: SPLIT_CPU, tensor: 0xa1, index: 0, op: OP.RMS_NORM, src: [0xe1], name: "norm-0" })
    .backendGraphEnd({ tid: 7, ts: 200 })
    .tensorCopy({ tid: 7, ts: 210, endTs: 230, src: 0xa1, dst: 0xd1, ne: [64, 32, 1, 1], nb: [4, 256, 8192, 8192], type: 0, kind: CopyKind.Sync, name: "norm-0" })
    .backendGraphBegin({ tid: 7, ts: 240, backend: BLAS, computeFn: BLAS_FN, signature: SPLIT_BLAS, nNodes: 1 })
    .graphNode({ tid: 7, ts: 240, signature: SPLIT_BLAS, tensor: 0xb1, index: 0, op: OP.MUL_MAT, src: [0xf1, 0xd1], name: "ffn_up-0" })
    .graphLeaf({ tid: 7, ts: 240, signature: SPLIT_BLAS, tensor: 0xd1, consumer: 0, name: "BLAS#norm-0#0" })
    .backendGraphEnd({ tid: 7, ts: 600 })
    .schedGraphEnd({ tid: 7, ts: 620 });
}

function profileOf(builder: StreamBuilder, trailer: object = TRAILER): Profile {
  return buildProfile(decodeStream(builder.trailer(trailer).bytes()));
}

test("backend spans: one per graph a backend computed, in their scheduler run, named from the compute function's symbol", () => {
  const p = profileOf(twoBackendRun());
  assert.deepEqual(
    p.backends.map((b) => [b.name, b.nameSource, b.address, b.pid, b.computeFunction, b.library]),
    [
      ["CPU", "symbol", CPU, 4242, "ggml_backend_cpu_graph_compute", "/lib/libggml-cpu.so"],
      ["BLAS", "symbol", BLAS, 4242, "ggml_backend_blas_graph_compute", "/lib/libggml-blas.so"],
    ],
  );
  assert.deepEqual(
    p.backendSpans.map((s) => [s.backend, s.startNs, s.endNs, s.nNodes, s.status, s.schedGraph]),
    [
      [0, 110, 200, 1, 0, 0],
      [1, 240, 600, 1, 0, 0],
    ],
  );
  assert.deepEqual(p.structures.get(p.backendSpans[1].signature)?.map((n) => n.op), ["MUL_MAT"], "the split's nodes");
  assert.deepEqual(p.schedGraphs.map((g) => [g.startNs, g.endNs, g.sched, g.spans, g.copies]), [[100, 620, SCHED, [0, 1], [0]]]);
});

test("a copy: bytes from the header's type traits, from the backend that computed src to the one whose split reads dst", () => {
  const p = profileOf(twoBackendRun());
  assert.equal(p.copies.length, 1);
  const copy = p.copies[0];
  assert.deepEqual([copy.kind, copy.name, copy.type, copy.startNs, copy.endNs], ["copy", "norm-0", "f32", 210, 230]);
  assert.equal(copy.bytes, 64 * 32 * 4);
  assert.deepEqual([copy.fromBackend, copy.toBackend], [0, 1]);
  assert.deepEqual(copyVolume(p.copies), { count: 1, bytes: 8192, ns: 20, flows: [{ fromBackend: 0, toBackend: 1, count: 1, bytes: 8192, ns: 20 }] });
});

test("time per backend sums its spans, largest first", () => {
  const p = profileOf(twoBackendRun());
  assert.deepEqual(
    backendTimes(p).map((t) => [t.name, t.spans, t.nodes, t.computeNs]),
    [
      ["BLAS", 1, 1, 360],
      ["CPU", 1, 1, 90],
    ],
  );
});

test("names the target gave win over symbols: a backend's own, else its device's", () => {
  const b = new StreamBuilder(DEFAULT_HEADER, 1, 3)
    .backendName({ tid: 7, ts: 10, object: CPU, kind: NameKind.Backend, name: "CPU" })
    .backendName({ tid: 7, ts: 11, object: 0xde, kind: NameKind.Device, name: "RPC0" });
  twoBackendRun(b).backendGraphBegin({ tid: 7, ts: 700, backend: 0xabc, device: 0xde, nNodes: 2 }).backendGraphEnd({ tid: 7, ts: 800 });
  const p = profileOf(b);
  assert.deepEqual(
    p.backends.map((x) => [x.name, x.nameSource]),
    [
      ["CPU", "backend"],
      ["BLAS", "symbol"],
      ["RPC0", "device"],
    ],
  );
});

test("threads of two processes: each backend belongs to the process of the thread that ran it", () => {
  const b = twoBackendRun()
    .thread({ tid: 90, ts: 300, pid: 5000 })
    .backendGraphBegin({ tid: 90, ts: 300, backend: CPU, computeFn: 0x1234, nNodes: 1 })
    .backendGraphEnd({ tid: 90, ts: 400 });
  const p = profileOf(b);
  assert.equal(p.threadPids.get(90), 5000);
  assert.equal(p.threadPids.get(7), 4242);
  const server = p.backends.find((x) => x.pid === 5000);
  assert.ok(server, "the same address in another process is another backend");
  assert.equal(server.name, `backend@0x${CPU.toString(16)}`);
  assert.equal(p.backendSpans.find((s) => s.tid === 90)?.schedGraph, -1);
});

test("a set_async copy counts the bytes written; a copy of host data comes from no backend", () => {
  const b = twoBackendRun().tensorCopy({ tid: 7, ts: 630, endTs: 640, dst: 0xd2, offset: 512, size: 1024, kind: CopyKind.SetAsync, name: "ffn_up_exps-0" });
  b.tensorCopy({ tid: 7, ts: 650, endTs: 655, src: 0xe9, dst: 0xd3, ne: [32, 2, 1, 1], nb: [18, 18, 36, 36], type: 2, kind: CopyKind.Async });
  const p = profileOf(b);
  const [setAsync, hostCopy] = p.copies.slice(1);
  assert.deepEqual([setAsync.kind, setAsync.bytes, setAsync.fromBackend, setAsync.toBackend], ["set_async", 1024, -1, -1]);
  assert.deepEqual([hostCopy.kind, hostCopy.type, hostCopy.bytes, hostCopy.fromBackend], ["copy_async", "q4_0", 2 * 18, -1]);
});

test("tensorBytes is ggml_nbytes from the header's traits, NaN for a type the header lacks", () => {
  const header = decodeStream(new StreamBuilder().bytes()).header.info;
  assert.equal(tensorBytes(header, 0, [10, 3, 1, 1], [4, 40, 120, 120]), 120);
  assert.equal(tensorBytes(header, 0, [10, 3, 1, 1], [4, 80, 240, 240]), 4 + 9 * 4 + 2 * 80, "a strided view spans its gaps");
  assert.equal(tensorBytes(header, 2, [64, 2, 1, 1], [18, 36, 72, 72]), 72);
  assert.equal(tensorBytes(header, 0, [0, 3, 1, 1], [4, 0, 0, 0]), 0);
  assert.ok(Number.isNaN(tensorBytes(header, 99, [1, 1, 1, 1], [4, 4, 4, 4])));
});

test("a stream before minor 3 has no backends, spans or copies", () => {
  const p = buildProfile(decodeStream(new StreamBuilder().opBegin({ tid: 1, ts: 1, tensor: 1, op: OP.ADD }).trailer().bytes()));
  assert.deepEqual([p.backends, p.backendSpans, p.schedGraphs, p.copies, p.threadPids.size], [[], [], [], [], 0]);
});

test("names from compute symbols follow ggml's naming; another symbol stays whole", () => {
  assert.equal(nameFromComputeSymbol("ggml_backend_rpc_graph_compute"), "RPC");
  assert.equal(nameFromComputeSymbol("ggml_backend_cpu_graph_compute(ggml_backend*, ggml_cgraph*)"), "CPU", "DWARF's C++ name");
  assert.equal(nameFromComputeSymbol("my_accelerator_run"), "my_accelerator_run");
});

test("splits and copies belong to the scheduler run of their own thread that encloses them", () => {
  const b = twoBackendRun()
    .schedGraphBegin({ tid: 8, ts: 150, backend: SCHED, nNodes: 1 })
    .backendGraphBegin({ tid: 8, ts: 160, backend: CPU, computeFn: CPU_FN, nNodes: 1 })
    .backendGraphEnd({ tid: 8, ts: 170 })
    .schedGraphEnd({ tid: 8, ts: 180 });
  b.schedGraphBegin({ tid: 7, ts: 700, backend: SCHED, nNodes: 1 }).schedGraphEnd({ tid: 7, ts: 701 });
  const p = profileOf(b);
  assert.deepEqual(p.schedGraphs.map((g) => [g.tid, g.startNs, g.spans.length, g.copies.length]), [
    [7, 100, 2, 1],
    [8, 150, 1, 0],
    [7, 700, 0, 0],
  ]);
  assert.deepEqual(p.backendSpans.map((s) => s.schedGraph), [0, 1, 0]);
});
