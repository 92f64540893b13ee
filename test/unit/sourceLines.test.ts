import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { allRecordedLines, checkRecordedLines, mismatchSummary, recordedLines } from "../../extension/target/sourceLines";
import { recordedKernelDefinition } from "../../extension/views/opSource";
import { DEFAULT_HEADER, DEFAULT_TRAILER, StreamBuilder } from "./streamBuilder";

const DISPATCH = `#include "ops.h"

void ggml_compute_forward_mul_mat(
        const struct ggml_compute_params * params,
              struct ggml_tensor * dst) {
    do_it(params, dst);
}

static void ggml_compute_forward(struct ggml_compute_params * params, struct ggml_tensor * tensor) {
    switch (tensor->op) {
        case GGML_OP_DUP:
            {
                ggml_compute_forward_dup(params, tensor);
            } break;
        case GGML_OP_MUL_MAT:
            {
                ggml_compute_forward_mul_mat(params, tensor);
            } break;
    }
}
`;
const BUILT_FILE = "/build/llama.cpp/ggml/src/ggml-cpu/ggml-cpu.c";
const WORKSPACE_FILE = "/home/me/llama.cpp/ggml/src/ggml-cpu/ggml-cpu.c";

/** 1-based line of the first line of DISPATCH holding `text`. */
function lineOf(text: string): number {
  return DISPATCH.split("\n").findIndex((line) => line.includes(text)) + 1;
}

/** What the helper writes for DISPATCH, as [line, function] pairs per file. */
function recordedDispatch(): object {
  return {
    file: BUILT_FILE,
    definitions: [[lineOf("void ggml_compute_forward_mul_mat("), "ggml_compute_forward_mul_mat"]],
    calls: [
      [lineOf("ggml_compute_forward_dup(params"), "ggml_compute_forward_dup"],
      [lineOf("ggml_compute_forward_mul_mat(params"), "ggml_compute_forward_mul_mat"],
    ],
  };
}

function profileWith(libraries: object[], trailer: object = DEFAULT_TRAILER): Profile {
  return buildProfile(decodeStream(new StreamBuilder({ ...DEFAULT_HEADER, libraries }, 1, 4).trailer(trailer).bytes()));
}

const CPU_LIBRARY = { path: "/build/bin/libggml-cpu.so", build_id: "abcd", has_dwarf: true, roles: ["ggml-cpu"] };

test("the header's source lines are decoded per library; malformed pairs are left out, an older stream has none", () => {
  const lines = { ...recordedDispatch(), calls: [[12, "ggml_compute_forward_dup"], [0, "ggml_compute_forward_add"], ["13", "x"], [14], 15] };
  const profile = profileWith([{ ...CPU_LIBRARY, source_lines: [lines] }, { path: "/build/bin/libggml-base.so", roles: ["ggml-base"] }]);
  assert.deepEqual(profile.header.libraries[0].source_lines, [
    {
      file: BUILT_FILE,
      definitions: [{ line: lineOf("void ggml_compute_forward_mul_mat("), function: "ggml_compute_forward_mul_mat" }],
      calls: [{ line: 12, function: "ggml_compute_forward_dup" }],
    },
  ]);
  assert.deepEqual(profile.header.libraries[1].source_lines, []);
  assert.deepEqual(profileWith([CPU_LIBRARY]).header.libraries[0].source_lines, []);
});

test("the source the program was built from holds every recorded line", () => {
  const recorded = recordedLines(profileWith([{ ...CPU_LIBRARY, source_lines: [recordedDispatch()] }]), WORKSPACE_FILE);
  assert.ok(recorded, "the workspace file is the built one by path suffix");
  assert.equal(recorded.file, BUILT_FILE);
  assert.deepEqual(checkRecordedLines(DISPATCH, recorded), []);
});

test("a line added inside a function shifts the recorded lines below it: each one is reported", () => {
  const recorded = recordedLines(profileWith([{ ...CPU_LIBRARY, source_lines: [recordedDispatch()] }]), WORKSPACE_FILE);
  assert.ok(recorded);
  const edited = DISPATCH.replace("    do_it(params, dst);\n", "    do_it(params, dst);\n    do_more(params, dst);\n");
  const mismatches = checkRecordedLines(edited, recorded);
  assert.deepEqual(
    mismatches.map((m) => [m.kind, m.line, m.function]),
    [
      ["call", lineOf("ggml_compute_forward_dup(params"), "ggml_compute_forward_dup"],
      ["call", lineOf("ggml_compute_forward_mul_mat(params"), "ggml_compute_forward_mul_mat"],
    ],
  );
  assert.equal(
    mismatchSummary(mismatches, 3),
    `2 of 3 lines the build's DWARF names differ, e.g. the call of ggml_compute_forward_dup is not at line ${lineOf("ggml_compute_forward_dup(params")} here`,
  );
});

test("a name must stand as a whole word: a longer kernel's name at the line does not count", () => {
  const recorded = { file: BUILT_FILE, definitions: [{ line: 1, function: "ggml_compute_forward_add" }], calls: [] };
  assert.equal(checkRecordedLines("void ggml_compute_forward_add_f32(", recorded).length, 1);
  assert.equal(checkRecordedLines("void ggml_compute_forward_add(", recorded).length, 0);
  const cut = checkRecordedLines("", { ...recorded, definitions: [{ line: 5, function: "ggml_compute_forward_add" }] });
  assert.equal(mismatchSummary(cut, 1), "1 of 1 lines the build's DWARF names differ, e.g. the definition of ggml_compute_forward_add is past the end of this file");
});

test("files of other directories and other names are not matched; several CPU libraries of one source merge", () => {
  const profile = profileWith([
    { ...CPU_LIBRARY, source_lines: [recordedDispatch()] },
    { ...CPU_LIBRARY, path: "/build/bin/libggml-cpu-haswell.so", source_lines: [{ file: BUILT_FILE, definitions: [[3, "ggml_compute_forward_mul_mat"]], calls: [] }] },
  ]);
  assert.equal(recordedLines(profile, "/elsewhere/ggml-cpu.c"), undefined, "the file name alone is not enough");
  assert.equal(recordedLines(profile, "/home/me/llama.cpp/ggml/src/ggml-cpu/ops.cpp"), undefined);
  assert.equal(recordedLines(profile, WORKSPACE_FILE)?.definitions.length, 2);
});

test("a CPU library the program loaded after the start brings its lines in the trailer's late_libraries", () => {
  const late = { path: "/build/bin/libggml-cpu-haswell.so", has_dwarf: true, op_method: "dwarf-inline", sites: [], source_lines: [recordedDispatch()] };
  const profile = profileWith([{ path: "/build/bin/libggml-base.so", roles: ["ggml-base"] }], { ...DEFAULT_TRAILER, late_libraries: [late] });
  const recorded = recordedLines(profile, WORKSPACE_FILE);
  assert.equal(recorded?.calls.length, 2);
  assert.deepEqual(checkRecordedLines(DISPATCH, recorded), []);
  assert.equal(recordedLines(profileWith([]), WORKSPACE_FILE), undefined, "no lines anywhere: nothing to check against");
});

test("an op's kernel definition where the build's DWARF puts it; none for an op whose definition was not recorded", () => {
  const profile = profileWith([{ ...CPU_LIBRARY, source_lines: [recordedDispatch()] }]);
  assert.deepEqual(recordedKernelDefinition(allRecordedLines(profile), "MUL_MAT"), { file: BUILT_FILE, line: lineOf("void ggml_compute_forward_mul_mat(") });
  assert.equal(recordedKernelDefinition(allRecordedLines(profile), "DUP"), undefined, "called from the switch, its definition not recorded");
});
