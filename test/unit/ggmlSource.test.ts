import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import {
  bestSuffixMatch,
  checkFrames,
  findOpAnchors,
  isStale,
  plainFunctionName,
  profiledFiles,
  profiledFrames,
} from "../../extension/target/ggmlSource";
import { breakdown, formatDuration, hotLines, lensTitle, statsByOp } from "../../extension/views/opCosts";
import { DEFAULT_HEADER, DEFAULT_TRAILER, OP, StreamBuilder } from "./streamBuilder";

const OPS = DEFAULT_HEADER.ops;

const DISPATCH = `#include "ops.h"

static void ggml_compute_forward_mul_mat(const struct ggml_compute_params * params, struct ggml_tensor * dst);

void ggml_compute_forward_mul_mat(
        const struct ggml_compute_params * params,
              struct ggml_tensor * dst) {
    do_it(params, dst);
}

static int n_tasks(struct ggml_tensor * node) {
    switch (node->op) {
        case GGML_OP_ADD:
            return 4;
        case GGML_OP_MUL_MAT:
            return 2;
    }
    return 1;
}

static void ggml_compute_forward(struct ggml_compute_params * params, struct ggml_tensor * tensor) {
    switch (tensor->op) {
        case GGML_OP_DUP:
            {
                ggml_compute_forward_dup(params, tensor);
            } break;
        case GGML_OP_ADD:
        case GGML_OP_MUL:
            {
                ggml_compute_forward_add(params, tensor);
            } break;
        case GGML_OP_MUL_MAT:
            {
                ggml_compute_forward_mul_mat(params, tensor);
            } break;
        case GGML_OP_FUTURE_OP:
            {
                ggml_compute_forward_future_op(params, tensor);
            } break;
        case GGML_OP_NONE:
            {
                // nop
            } break;
    }
}
`;

test("anchors: the cases of the dispatch switch and the kernel definitions of known ops, nothing else", () => {
  const anchors = findOpAnchors(DISPATCH, OPS).map((a) => [a.line + 1, a.op, a.kind]);
  assert.deepEqual(anchors, [
    [5, "MUL_MAT", "definition"],
    [23, "DUP", "case"],
    [27, "ADD", "case"],
    [28, "MUL", "case"],
    [32, "MUL_MAT", "case"],
  ]);
});

test("anchors: op names come from the header, so a renamed op table moves them", () => {
  const renamed = OPS.map((op) => (op === "MUL_MAT" ? "MATMUL" : op));
  assert.ok(!findOpAnchors(DISPATCH, renamed).some((a) => a.op === "MUL_MAT" || a.op === "MATMUL"));
});

test("suffix matching picks the file sharing the longest path tail, and refuses ties", () => {
  const profiled = "/build/llama.cpp/ggml/src/ggml-cpu/ops.cpp";
  const candidates = ["/ws/ggml/src/ggml-cpu/ops.cpp", "/ws/vendor/ops.cpp", "/ws/ggml/src/ggml-cpu/ops.h"];
  assert.equal(bestSuffixMatch(profiled, candidates), "/ws/ggml/src/ggml-cpu/ops.cpp");
  assert.equal(bestSuffixMatch(profiled, ["/a/ops.cpp", "/b/ops.cpp"]), undefined);
  assert.equal(bestSuffixMatch(profiled, ["/ws/vec.h"]), undefined);
});

test("function names lose DWARF decorations", () => {
  assert.equal(plainFunctionName("gguf_file_reader_callback(void*, void*, unsigned long, unsigned long)"), "gguf_file_reader_callback");
  assert.equal(plainFunctionName("ggml_graph_compute_thread.isra.0"), "ggml_graph_compute_thread");
  assert.equal(plainFunctionName("ggml::cpu::repack::tensor_traits<block_q4_0, 8l, 8l>::compute_forward"), "compute_forward");
  assert.equal(plainFunctionName("ggml_compute_forward_x(ggml_compute_params const*)::{lambda(int)#1}::operator()"), "ggml_compute_forward_x");
});

const FILE = "/src/ggml/src/ggml-cpu/ggml-cpu.c";

function profileWithSamples(): Profile {
  const symbols = [
    { ip: 0x1000, function: "ggml_compute_forward_mul_mat", file: FILE, line: 7, inline_callers: [] },
    {
      ip: 0x2000,
      function: "ggml_compute_forward_mul_mat",
      file: FILE,
      line: 8,
      inline_callers: [{ function: "ggml_compute_forward", file: FILE, line: 34 }],
    },
    { ip: 0x3000, function: "memset", file: null, line: 0, inline_callers: [] },
  ];
  const b = new StreamBuilder()
    .opBegin({ tid: 1, ts: 100, tensor: 0xa, op: OP.MUL_MAT, type: 0, ne: [4096, 1, 1, 1] })
    .opEnd({ tid: 1, ts: 400, tensor: 0xa })
    .opBegin({ tid: 1, ts: 500, tensor: 0xb, op: OP.MUL_MAT, type: 0, ne: [64, 2, 1, 1] })
    .opEnd({ tid: 1, ts: 600, tensor: 0xb })
    .opBegin({ tid: 1, ts: 700, tensor: 0xc, op: OP.MUL_MAT, type: 0, ne: [4096, 1, 1, 1] })
    .opEnd({ tid: 1, ts: 1000, tensor: 0xc })
    .opBegin({ tid: 2, ts: 100, tensor: 0xd, op: OP.ADD, type: 1, ne: [64, 1, 1, 1] })
    .opEnd({ tid: 2, ts: 500, tensor: 0xd });
  for (const [i, ip] of [0x1000, 0x1000, 0x2000, 0x3000].entries()) b.sample({ tid: 1, ts: 200 + i, ip });
  return buildProfile(decodeStream(b.trailer({ ...DEFAULT_TRAILER, symbols }).bytes()));
}

test("the profile's frames: sampled lines and the call sites they were inlined at", () => {
  const p = profileWithSamples();
  assert.deepEqual(
    profiledFrames(p).map((f) => [f.function, f.line]),
    [
      ["ggml_compute_forward_mul_mat", 7],
      ["ggml_compute_forward_mul_mat", 8],
      ["ggml_compute_forward", 34],
    ],
  );
  assert.deepEqual(profiledFiles(p), [FILE]);
});

test("stale source: frames agree with the profiled text, and disagree once lines moved", () => {
  const frames = profiledFrames(profileWithSamples());
  const same = checkFrames(DISPATCH, frames);
  assert.deepEqual(same, { agreeing: 3, disagreeing: [] });
  assert.equal(isStale(same), false);
  const moved = checkFrames(`// new header\n${"\n".repeat(20)}${DISPATCH}`, frames);
  assert.equal(moved.agreeing, 0);
  assert.equal(isStale(moved), true);
  assert.equal(isStale(checkFrames(DISPATCH.split("\n").slice(0, 20).join("\n"), frames)), true, "a line past the end disagrees");
});

test("lens title and breakdown come from the spans", () => {
  const p = profileWithSamples();
  const mulMat = statsByOp(p).get("MUL_MAT")?.[0];
  assert.ok(mulMat);
  assert.equal(lensTitle(mulMat), `MUL_MAT ${((700 / 1100) * 100).toFixed(1)}% · 3 calls · 233 ns avg`);
  assert.equal(
    lensTitle(mulMat, { gflopsPerS: 23.04, gbPerS: 11.71, bound: "memory-bound" }),
    `MUL_MAT 63.6% · 3 calls · 233 ns avg · 23.0 GFLOP/s · 11.7 GB/s · memory-bound`,
  );
  assert.deepEqual(
    breakdown(p, mulMat).map((r) => [r.type, r.shape, r.calls, r.totalNs]),
    [
      ["f32", "4096", 2, 600],
      ["f32", "64×2", 1, 100],
    ],
  );
  assert.equal(formatDuration(41_234), "41.2 µs");
  assert.equal(formatDuration(3_070_000), "3.07 ms");
});

test("hot lines count samples per source line, share of all samples", () => {
  const lines = hotLines(profileWithSamples()).map((h) => [h.line, h.samples, h.share]);
  assert.deepEqual(lines, [
    [7, 2, 0.5],
    [8, 1, 0.25],
  ]);
});
