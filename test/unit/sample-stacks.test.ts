/**
 * Caller chains of timer samples (the trailer's stacks, indexed by each sample's stack field) as the
 * stream decoder reads them and as the pprof export lays them out: the sampled line, then its
 * callers outward, then the run's context frames (op, graph, decode call); and the trailer's CPU
 * backends loaded after the start.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pprofProfile } from "../../extension/profile/export/pprof";
import { decodeContainer, encodeContainer } from "../../extension/profile/format";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { readPprof, stacks } from "./exportReaders";
import { DEFAULT_HEADER, StreamBuilder } from "./streamBuilder";

const LEAF = 0x7f00_0000_1000;
const CALLER = 0x7f00_0000_2000;
const DECODE = 0x7f00_0000_3000;
const SYMBOLS = [
  { ip: LEAF, function: "ggml_barrier", file: "ggml-cpu.c", line: 600 },
  { ip: CALLER, function: "ggml_graph_compute", file: "ggml-cpu.c", line: 3453 },
  { ip: DECODE, function: "llama_decode", file: "llama-context.cpp", line: 3100 },
];

function recording() {
  const b = new StreamBuilder({ ...DEFAULT_HEADER, sample_hz: 100 }, 1, 3)
    .decodeBegin({ tid: 1, ts: 1_000_000, nTokens: 1 })
    .sample({ tid: 1, ts: 1_010_000, ip: LEAF, stack: 1 })
    .sample({ tid: 1, ts: 1_020_000, ip: LEAF, stack: 1 })
    .sample({ tid: 2, ts: 1_030_000, ip: LEAF })
    .decodeEnd({ tid: 1, ts: 1_100_000 });
  const late = { path: "/plugins/libggml-cpu.so", build_id: "ab", has_dwarf: true, op_method: "dwarf-inline", attached_ns: 1_005_000, sites: [{ index: 4 }, { index: 5 }, { kind: "op_end" }] };
  const trailer = { hits: {}, lost: {}, exit_status: 0, windows: 0, duration_ns: 1, symbols: SYMBOLS, stacks: [[LEAF, CALLER, DECODE], "not a chain"], late_libraries: [late] };
  const stream = decodeStream(b.trailer(trailer).bytes());
  return { stream, profile: buildProfile(stream), meta: undefined };
}

test("sample stacks: decoded from the sample records and the trailer", () => {
  const { stream } = recording();
  assert.deepEqual([...stream.tables.sample.stack], [1, 1, 0]);
  assert.deepEqual(stream.trailer?.stacks, [[LEAF, CALLER, DECODE], []], "a malformed chain reads as empty");
});

test("late libraries: the trailer's CPU backends loaded after the start, their sites by index", () => {
  assert.deepEqual(recording().stream.trailer?.late_libraries, [
    { path: "/plugins/libggml-cpu.so", build_id: "ab", op_method: "dwarf-inline", attached_ns: 1_005_000, sites: [4, 5] },
  ]);
});

test("sample stacks: pprof samples run from the sampled line through its callers to the context frames", () => {
  const all = stacks(readPprof(pprofProfile(recording())));
  const sampled = all.filter((s) => s.values[1] > 0).map((s) => ({ frames: s.frames, count: s.values[1], thread: s.thread }));
  const context = ["outside graphs", "llama_decode decode (1 token)"];
  assert.deepEqual(sampled.sort((a, b) => a.thread - b.thread), [
    { frames: ["ggml_barrier ggml-cpu.c:600", "ggml_graph_compute ggml-cpu.c:3453", "llama_decode llama-context.cpp:3100", ...context], count: 2, thread: 1 },
    { frames: ["ggml_barrier ggml-cpu.c:600", ...context], count: 1, thread: 2 },
  ]);
});

test("sample stacks and late libraries survive a .ggmlprof container", () => {
  const raw = recording().stream;
  const { stream } = decodeContainer(encodeContainer(raw, { tool: { name: "ggml-lens", version: "0" } }));
  assert.deepEqual([...stream.tables.sample.stack], [...raw.tables.sample.stack]);
  assert.deepEqual(stream.trailer?.stacks, raw.trailer?.stacks);
  assert.deepEqual(stream.trailer?.late_libraries, raw.trailer?.late_libraries);
});
