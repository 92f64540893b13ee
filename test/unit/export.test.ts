import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import protobuf from "protobufjs";
import { opTableCsv } from "../../extension/profile/export/csv";
import { perfettoTrace } from "../../extension/profile/export/perfetto";
import { pprofProfile } from "../../extension/profile/export/pprof";
import type { Recording } from "../../extension/profile/file";
import { decodeContainer, encodeContainer } from "../../extension/profile/format";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
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
      .graphBegin({ tid: 1, ts: base + 10_000, signature: SIG, nNodes: 3 })
      .opBegin({ tid: 1, ts: base + 20_000, tensor: 0xa0, op: OP.MUL_MAT, type: 1, ne: [4096, nTokens, 1, 1], name: "ffn_up-0" })
      .opBegin({ tid: 2, ts: base + 21_000, tensor: 0xa0, op: OP.MUL_MAT, type: 1, ith: 1, ne: [4096, nTokens, 1, 1], name: "ffn_up-0" })
      .sample({ tid: 2, ts: base + 30_000, ip: IP_INLINED })
      .opEnd({ tid: 1, ts: base + 60_000, tensor: 0xa0, minFlt: 2, nvcsw: 1, cpuNs: 39_000 })
      .opEnd({ tid: 2, ts: base + 61_000, tensor: 0xa0, majFlt: 1, nivcsw: 3, cpuNs: 40_000 })
      .opBegin({ tid: 1, ts: base + 70_000, tensor: 0xb0, op: OP.SOFT_MAX, name: "kq_soft_max-0" })
      .opEnd({ tid: 1, ts: base + 80_000, tensor: 0xb0 })
      .sample({ tid: 1, ts: base + 85_000, ip: IP_PLAIN })
      .opBegin({ tid: 2, ts: base + 88_000, tensor: 0xc0, op: OP.ADD, name: "ffn_out-0" })
      .graphEnd({ tid: 1, ts: base + 90_000 })
      .opEnd({ tid: 2, ts: base + 95_000, tensor: 0xc0 })
      .decodeEnd({ tid: 1, ts: base + 100_000 });
  }
  b.sample({ tid: 2, ts: 3_000_000, ip: IP_UNKNOWN });
  const stream = decodeStream(b.trailer({ hits: {}, lost: {}, exit_status: 0, windows: 0, duration_ns: 2_500_000, symbols: SYMBOLS }).bytes());
  return { stream, profile: buildProfile(stream), meta: undefined };
}

// ---- pprof -------------------------------------------------------------------------------

interface PprofMessage {
  sampleType: { type: number; unit: number }[];
  sample: { locationId: number[]; value: number[]; label: { key: number; num: number }[] }[];
  mapping: { id: number; filename: number; buildId: number }[];
  location: { id: number; mappingId?: number; address?: number; line: { functionId: number; line?: number }[] }[];
  function: { id: number; name: number; filename: number }[];
  stringTable: string[];
  defaultSampleType: number;
  period: number;
  periodType: { type: number; unit: number };
}

function readPprof(bytes: Uint8Array): PprofMessage {
  const root = protobuf.loadSync(path.join(__dirname, "../fixtures/pprof/profile.proto"));
  const type = root.lookupType("perftools.profiles.Profile");
  return type.toObject(type.decode(gunzipSync(bytes)), { longs: Number, defaults: true }) as PprofMessage;
}

/** Each sample as its frames, leaf first: "function file:line" joined by " < " per location. */
function stacks(p: PprofMessage): { frames: string[]; values: number[]; thread: number }[] {
  const str = (i: number): string => p.stringTable[i];
  const fn = new Map(p.function.map((f) => [f.id, f]));
  const loc = new Map(p.location.map((l) => [l.id, l]));
  return p.sample.map((s) => ({
    frames: s.locationId.map((id) => {
      const l = loc.get(id);
      assert.ok(l, `location ${id} exists`);
      return l.line
        .map((line) => {
          const f = fn.get(line.functionId);
          assert.ok(f, `function ${line.functionId} exists`);
          return line.line ? `${str(f.name)} ${str(f.filename)}:${line.line}` : str(f.name);
        })
        .join(" < ");
    }),
    values: s.value,
    thread: s.label.find((l) => str(l.key) === "thread")?.num ?? -1,
  }));
}

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

interface TraceEvent {
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  name: string;
  cat?: string;
  args?: Record<string, unknown>;
}

/** The Trace Event format's rules for what ggml-lens writes (X, B/E, C, i and M events). */
function assertValidTrace(trace: { traceEvents: TraceEvent[] }): void {
  assert.ok(Array.isArray(trace.traceEvents), "traceEvents is an array");
  const open = new Map<string, string[]>();
  const slices = new Map<string, [number, number][]>();
  for (const e of trace.traceEvents) {
    assert.ok(["X", "B", "E", "C", "i", "M"].includes(e.ph), `ph ${e.ph}`);
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid), "integer pid and tid");
    assert.equal(typeof e.name, "string");
    const thread = `${e.pid}/${e.tid}`;
    if (e.ph === "M") {
      assert.ok(["process_name", "thread_name", "thread_sort_index", "process_sort_index"].includes(e.name), e.name);
      assert.ok(e.args && (typeof e.args.name === "string" || Number.isInteger(e.args.sort_index)), "metadata args");
      continue;
    }
    assert.ok(typeof e.ts === "number" && e.ts >= 0, `ts of ${e.name}`);
    if (e.ph === "X") {
      assert.ok(typeof e.dur === "number" && e.dur >= 0, `dur of ${e.name}`);
      slices.set(thread, [...(slices.get(thread) ?? []), [e.ts, e.ts + e.dur]]);
    }
    if (e.ph === "B") open.set(thread, [...(open.get(thread) ?? []), e.name]);
    if (e.ph === "E") assert.ok(open.get(thread)?.pop() !== undefined, "E closes a B");
    if (e.ph === "C") assert.ok(e.args && Object.values(e.args).every((v) => typeof v === "number"), "counter values are numbers");
  }
  for (const names of open.values()) assert.equal(names.length, 0, "every B is closed");
  for (const [thread, list] of slices) {
    list.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const stack: number[] = [];
    for (const [start, end] of list) {
      while (stack.length && stack[stack.length - 1] <= start + 1e-9) stack.pop();
      assert.ok(!stack.length || end <= stack[stack.length - 1] + 1e-9, `slices on ${thread} nest: [${start}, ${end}] crosses its parent's end ${stack[stack.length - 1]}`);
      stack.push(end);
    }
  }
}

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

test("exports read the same from a container as from the raw stream", () => {
  const raw = recording();
  const { stream } = decodeContainer(encodeContainer(raw.stream, { tool: { name: "ggml-lens", version: "0" } }));
  const loaded: Recording = { stream, profile: buildProfile(stream), meta: undefined };
  assert.equal([...perfettoTrace(loaded)].join(""), [...perfettoTrace(raw)].join(""));
  const now = new Date(0);
  assert.deepEqual(readPprof(pprofProfile(loaded, now)), readPprof(pprofProfile(raw, now)));
});

// ---- CSV ---------------------------------------------------------------------------------

/** An RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else {
      assert.ok(c !== "\n" && c !== "\r", "bare line breaks only inside quotes");
      field += c;
    }
  }
  assert.equal(field + row.join(""), "", "the last record ends with CRLF");
  return rows;
}

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
