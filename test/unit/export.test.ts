import { test } from "node:test";
import assert from "node:assert/strict";
import { opTableCsv } from "../../extension/profile/export/csv";
import { perfettoTrace } from "../../extension/profile/export/perfetto";
import { pprofProfile } from "../../extension/profile/export/pprof";
import type { Recording } from "../../extension/profile/file";
import { decodeContainer, encodeContainer } from "../../extension/profile/format";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { assertValidTrace, parseCsv, readPprof, stacks, type TraceEvent } from "./exportReaders";
import { DEFAULT_HEADER, OP, StreamBuilder } from "./streamBuilder";

const SIG = 0x1234_5678_9abc_def0n;
const IP_INLINED = 0x7f00_0000_1234;
const IP_PLAIN = 0x7f00_0000_5678;
const IP_UNKNOWN = 0x5555_0000;

const SYMBOLS = [
  {
    ip: IP_INLINED,
    path: "/build/bin/libggml-cpu.so",
    build_id: "b1d",
    function: "ggml_vec_dot_f16",
    file: "vec.h",
    line: 42,
    inline_callers: [{ function: "ggml_compute_forward_mul_mat_one_chunk", file: "ggml-cpu.c", line: 1200 }],
  },
  { ip: IP_PLAIN, path: "/build/bin/libggml-cpu.so", build_id: "b1d", function: "ggml_barrier", file: "ggml-cpu.c", line: 560 },
];

/**
 * Two decode calls on thread 1 (a prefill of 4 tokens, a decode of 1), each computing one graph;
 * op spans on threads 1 and 2; timer samples inside and outside op spans; an op name with a comma
 * and a quote (CSV quoting); a span that outlives its graph (cut when nested).
 */
function recording(): Recording {
  const header = { ...DEFAULT_HEADER, ops: [...DEFAULT_HEADER.ops.slice(0, 6), 'SOFT_MAX,"ext"'], sample_hz: 1000 };
  const b = new StreamBuilder(header);
  for (const [base, nTokens] of [[1_000_000, 4], [2_000_000, 1]] as const) {
    b.decodeBegin({ tid: 1, ts: base, nTokens })
      .graphBegin({ tid: 1, ts: base + 10_000, signature: SIG, nNodes: 3 });
    if (base === 1_000_000) {
      for (const [index, tensor, op, name] of [[0, 0xa0, OP.MUL_MAT, "ffn_up-0"], [1, 0xb0, OP.SOFT_MAX, "kq_soft_max-0"], [2, 0xc0, OP.ADD, "ffn_out-0"]] as const) {
        b.graphNode({ tid: 1, ts: base + 10_000, signature: SIG, tensor, index, op, name });
      }
    }
    b.opBegin({ tid: 1, ts: base + 20_000, tensor: 0xa0, op: OP.MUL_MAT, type: 1, ne: [4096, nTokens, 1, 1] })
      .opBegin({ tid: 2, ts: base + 21_000, tensor: 0xa0, op: OP.MUL_MAT, type: 1, ith: 1, ne: [4096, nTokens, 1, 1] })
      .sample({ tid: 2, ts: base + 30_000, ip: IP_INLINED })
      .opEnd({ tid: 1, ts: base + 60_000, tensor: 0xa0, minFlt: 2, nvcsw: 1, cpuNs: 39_000 })
      .opEnd({ tid: 2, ts: base + 61_000, tensor: 0xa0, majFlt: 1, nivcsw: 3, cpuNs: 40_000 })
      .opBegin({ tid: 1, ts: base + 70_000, tensor: 0xb0, op: OP.SOFT_MAX })
      .opEnd({ tid: 1, ts: base + 80_000, tensor: 0xb0 })
      .sample({ tid: 1, ts: base + 85_000, ip: IP_PLAIN })
      .opBegin({ tid: 2, ts: base + 88_000, tensor: 0xc0, op: OP.ADD })
      .graphEnd({ tid: 1, ts: base + 90_000 })
      .opEnd({ tid: 2, ts: base + 95_000, tensor: 0xc0 })
      .decodeEnd({ tid: 1, ts: base + 100_000 });
  }
  b.sample({ tid: 2, ts: 3_000_000, ip: IP_UNKNOWN });
  const stream = decodeStream(b.trailer({ hits: {}, lost: {}, exit_status: 0, windows: 0, duration_ns: 2_500_000, symbols: SYMBOLS }).bytes());
  return { stream, profile: buildProfile(stream), meta: undefined };
}

// ---- pprof -------------------------------------------------------------------------------

test("pprof: op time per thread under decode call > graph > op; samples end in their source line and inline callers", () => {
  const r = recording();
  const p = readPprof(pprofProfile(r));
  const str = (i: number): string => p.stringTable[i];
  assert.equal(p.stringTable[0], "");
  assert.deepEqual(p.sampleType.map((t) => [str(t.type), str(t.unit)]), [["op_time", "nanoseconds"], ["samples", "count"]]);
  assert.equal(str(p.defaultSampleType), "op_time");
  assert.deepEqual([str(p.periodType.type), p.period], ["cpu", 1_000_000]);

  const all = stacks(p);
  const graph = `graph ${SIG.toString(16)} (3 nodes)`;
  const find = (frames: string[], thread: number): number[] => {
    const found = all.find((s) => s.thread === thread && JSON.stringify(s.frames) === JSON.stringify(frames));
    assert.ok(found, `${frames.join(" ; ")} on ${thread} in ${JSON.stringify(all, null, 1)}`);
    return found.values;
  };
  assert.deepEqual(find(["MUL_MAT", graph, "llama_decode prefill (4 tokens)"], 1), [40_000, 0]);
  assert.deepEqual(find(["MUL_MAT", graph, "llama_decode decode (1 token)"], 2), [40_000, 0]);
  assert.deepEqual(find(['SOFT_MAX,"ext"', graph, "llama_decode decode (1 token)"], 1), [10_000, 0]);
  assert.deepEqual(find(["ADD", graph, "llama_decode prefill (4 tokens)"], 2), [7_000, 0]);
  const inlined = "ggml_vec_dot_f16 vec.h:42 < ggml_compute_forward_mul_mat_one_chunk ggml-cpu.c:1200";
  assert.deepEqual(find([inlined, "MUL_MAT", graph, "llama_decode prefill (4 tokens)"], 2), [0, 1]);
  assert.deepEqual(find(["ggml_barrier ggml-cpu.c:560", graph, "llama_decode decode (1 token)"], 1), [0, 1]);
  assert.deepEqual(find([`0x${IP_UNKNOWN.toString(16)}`, "outside graphs", "outside llama_decode"], 2), [0, 1]);

  const opTotal = all.reduce((n, s) => n + s.values[0], 0);
  const spanTotal = r.profile.ops.reduce((n, s) => n + s.total_ns, 0);
  assert.equal(opTotal, spanTotal, "op time adds up to the op table's");
  assert.equal(all.reduce((n, s) => n + s.values[1], 0), r.profile.samples.count);
  const sampled = p.location.find((l) => l.address === IP_INLINED);
  const mapping = p.mapping.find((m) => m.id === sampled?.mappingId);
  assert.deepEqual(mapping && [str(mapping.filename), str(mapping.buildId)], ["/build/bin/libggml-cpu.so", "b1d"]);
});

// ---- Perfetto ----------------------------------------------------------------------------

function trace(r: Recording): { traceEvents: TraceEvent[]; displayTimeUnit: string } {
  return JSON.parse([...perfettoTrace(r)].join(""));
}

test("Perfetto: a valid trace; decode calls, graphs and ops nest on their threads, with args; counters and names", () => {
  const t = trace(recording());
  assertValidTrace(t);
  const events = t.traceEvents;
  const names = events.filter((e) => e.name === "thread_name").map((e) => [e.tid, e.args?.name]);
  assert.deepEqual(names, [[1, "llama_decode 1"], [2, "ggml worker 2"]]);
  assert.deepEqual(events.find((e) => e.name === "process_name")?.args, { name: "llama-completion (pid 4242)" });

  const slices = (tid: number): string[] => events.filter((e) => e.ph === "X" && e.tid === tid).map((e) => `${e.cat}:${e.name}@${e.ts}+${e.dur}`);
  const graph = `graph ${SIG.toString(16)} (3 nodes)`;
  assert.deepEqual(slices(1).slice(0, 4), [
    "token:llama_decode prefill (4 tokens)@0+100",
    `graph:${graph}@10+80`,
    "op:MUL_MAT@20+40",
    'op:SOFT_MAX,"ext"@70+10',
  ]);
  assert.deepEqual(slices(2).slice(0, 2), ["op:MUL_MAT@21+40", "op:ADD@88+7"]);
  const mulMat = events.find((e) => e.cat === "op" && e.tid === 2);
  assert.deepEqual(mulMat?.args, {
    tensor: "ffn_up-0",
    op: "MUL_MAT",
    shape: [4096, 4, 1, 1],
    type: "f16",
    ith: 1,
    cpu: 0,
    minor_faults: 0,
    major_faults: 1,
    voluntary_switches: 0,
    involuntary_switches: 3,
    cpu_ns: 40_000,
  });
  const counters = events.filter((e) => e.ph === "C");
  assert.deepEqual(counters.map((e) => [e.ts, e.name, Object.keys(e.args ?? {})]), [
    [100, "llama_decode counters", ["minor_faults", "major_faults", "context_switches", "cpu_ms"]],
    [1100, "llama_decode counters", ["minor_faults", "major_faults", "context_switches", "cpu_ms"]],
  ]);
});

test("Perfetto: a slice that outlives its parent is cut at the parent's end and marked clipped; times are exact nanoseconds", () => {
  const b = new StreamBuilder()
    .graphBegin({ tid: 1, ts: 1_000_001, signature: SIG, nNodes: 1 })
    .opBegin({ tid: 1, ts: 1_000_002, tensor: 1, op: OP.ADD })
    .graphEnd({ tid: 1, ts: 1_000_500 })
    .opEnd({ tid: 1, ts: 1_000_999, tensor: 1 });
  const stream = decodeStream(b.trailer().bytes());
  const t = trace({ stream, profile: buildProfile(stream), meta: undefined });
  assertValidTrace(t);
  const op = t.traceEvents.find((e) => e.cat === "op");
  assert.deepEqual([op?.ts, op?.dur, op?.args?.clipped], [0.001, 0.498, true]);
});

test("Perfetto: an op span's tensor is named by its graph's node when its OP_BEGIN has no name (stream major 2)", () => {
  const b = new StreamBuilder(DEFAULT_HEADER, 2, 0)
    .graphBegin({ tid: 1, ts: 1_000_001, signature: SIG, nNodes: 1 })
    .graphNode({ tid: 1, ts: 1_000_001, signature: SIG, tensor: 0xa0, index: 0, op: OP.ADD, name: "ffn_out-3" })
    .opBegin({ tid: 1, ts: 1_000_002, tensor: 0xa0, op: OP.ADD })
    .opEnd({ tid: 1, ts: 1_000_099, tensor: 0xa0 })
    .opBegin({ tid: 1, ts: 1_000_102, tensor: 0xb0, op: OP.ADD })
    .opEnd({ tid: 1, ts: 1_000_199, tensor: 0xb0 })
    .graphEnd({ tid: 1, ts: 1_000_500 });
  const stream = decodeStream(b.trailer().bytes());
  assert.deepEqual(stream.errors, []);
  const t = trace({ stream, profile: buildProfile(stream), meta: undefined });
  assert.deepEqual(t.traceEvents.filter((e) => e.cat === "op").map((e) => e.args?.tensor), ["ffn_out-3", ""], "a tensor the graph does not list has no name");
});

test("exports read the same from a container as from the raw stream", () => {
  const raw = recording();
  const { stream } = decodeContainer(encodeContainer(raw.stream, { tool: { name: "ggml-lens", version: "0" } }));
  const loaded: Recording = { stream, profile: buildProfile(stream), meta: undefined };
  assert.equal([...perfettoTrace(loaded)].join(""), [...perfettoTrace(raw)].join(""));
  const now = new Date(0);
  assert.deepEqual(readPprof(pprofProfile(loaded, now)), readPprof(pprofProfile(raw, now)));
});

// ---- CSV ---------------------------------------------------------------------------------

test("CSV: a header row and one row per op class, quoted where needed", () => {
  const { profile } = recording();
  const rows = parseCsv(opTableCsv(profile.ops));
  assert.deepEqual(rows[0], ["op", "fused", "calls", "threads", "total_ns", "share", "mean_ns", "p50_ns", "p99_ns", "minor_faults", "major_faults", "voluntary_switches", "involuntary_switches", "cpu_ns"]);
  assert.equal(rows.length, 1 + profile.ops.length);
  assert.ok(rows.every((r) => r.length === rows[0].length));
  const byOp = new Map(rows.slice(1).map((r) => [r[0], Object.fromEntries(r.map((v, i) => [rows[0][i], v]))]));
  assert.deepEqual(byOp.get("MUL_MAT"), {
    op: "MUL_MAT", fused: "false", calls: "4", threads: "2", total_ns: "160000", share: String(160000 / 194000),
    mean_ns: "40000", p50_ns: "40000", p99_ns: "40000", minor_faults: "4", major_faults: "2",
    voluntary_switches: "2", involuntary_switches: "6", cpu_ns: "158000",
  });
  assert.equal(byOp.get('SOFT_MAX,"ext"')?.calls, "2");
  assert.match(opTableCsv(profile.ops), /\r\n"SOFT_MAX,""ext""",false,2,/);
});
