/**
 * FLOPs and minimum bytes per op, against cases computed by hand from each op's definition and the
 * type traits below (as a profile header lists them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CostModel, fusedCost, type Tensor } from "../../extension/profile/cost";
import type { TypeInfo } from "../../extension/profile/stream";

const TYPES: TypeInfo[] = [
  { name: "f32", blck_size: 1, type_size: 4, is_quantized: false },
  { name: "f16", blck_size: 1, type_size: 2, is_quantized: false },
  { name: "q4_0", blck_size: 32, type_size: 18, is_quantized: true },
  { name: "q4_1", blck_size: 32, type_size: 20, is_quantized: true },
  { name: "DEPRECATED", blck_size: 0, type_size: 0, is_quantized: false },
  { name: "q8_0", blck_size: 32, type_size: 34, is_quantized: true },
  { name: "q8_1", blck_size: 32, type_size: 36, is_quantized: true },
  { name: "q4_K", blck_size: 256, type_size: 144, is_quantized: true },
  { name: "q8_K", blck_size: 256, type_size: 292, is_quantized: true },
  { name: "i32", blck_size: 1, type_size: 4, is_quantized: false },
  { name: "i64", blck_size: 1, type_size: 8, is_quantized: false },
];

const model = new CostModel(TYPES);
const t = (type: string, ...ne: number[]): Tensor => ({ type, ne: [...ne, 1, 1, 1].slice(0, 4) });

test("MUL_MAT: 2*K*M*N FLOPs; bytes: quantized weights by block, activations and result in their types", () => {
  // q4_0 weights [K=256, M=768], f32 activations [256, N=9] -> f32 [768, 9]
  const cost = model.cost({ op: "MUL_MAT", dst: t("f32", 768, 9), src: [t("q4_0", 256, 768), t("f32", 256, 9)] });
  assert.equal(cost.flops, 2 * 256 * 768 * 9); // 3,538,944
  assert.equal(cost.bytes, (256 / 32) * 18 * 768 + 256 * 9 * 4 + 768 * 9 * 4); // 110,592 + 9,216 + 27,648
  assert.deepEqual(cost.conversion, { from: "f32", to: "q8_0", bytes: (256 / 32) * 34 * 9, source: "assumed" });
});

test("MUL_MAT over batch dims: FLOPs times ne2*ne3 of the result; a broadcast src0 is read once", () => {
  // KQ of attention: K f16 [64, 256 keys, 2 kv heads], Q f32 [64, 9 queries, 8 heads]
  const cost = model.cost({ op: "MUL_MAT", dst: t("f32", 256, 9, 8), src: [t("f16", 64, 256, 2), t("f32", 64, 9, 8)] });
  assert.equal(cost.flops, 2 * 64 * 256 * 9 * 8);
  assert.equal(cost.bytes, 64 * 256 * 2 * 2 + 64 * 9 * 8 * 4 + 256 * 9 * 8 * 4);
  assert.deepEqual(cost.conversion, { from: "f32", to: "f16", bytes: 64 * 9 * 8 * 2, source: "assumed" });
});

test("MUL_MAT: the vec_dot type comes from the profile when recorded, else by block size and kind", () => {
  const recorded = new CostModel(TYPES, new Map([["q4_0", "q8_1"]]));
  assert.deepEqual(recorded.vecDotType("q4_0"), { type: "q8_1", source: "profile" });
  assert.deepEqual(model.vecDotType("q4_0"), { type: "q8_0", source: "assumed" });
  assert.deepEqual(model.vecDotType("q4_1"), { type: "q8_1", source: "assumed" });
  assert.deepEqual(model.vecDotType("q4_K"), { type: "q8_K", source: "assumed" });
  assert.deepEqual(model.vecDotType("f32"), { type: "f32", source: "assumed" });
  const f32 = model.cost({ op: "MUL_MAT", dst: t("f32", 64, 1), src: [t("f32", 256, 64), t("f32", 256, 1)] });
  assert.equal(f32.conversion, undefined, "f32 x f32 needs no conversion");
});

test("MUL_MAT without the weights' type: FLOPs from src1's K, bytes unknown (null) and said so", () => {
  const cost = model.cost({ op: "MUL_MAT", dst: t("f32", 768, 9), src: [undefined, t("f32", 256, 9)] });
  assert.equal(cost.flops, 2 * 256 * 768 * 9);
  assert.equal(cost.bytes, null);
  assert.match(cost.notes.join(), /src0 .* not recorded/);
});

test("MUL_MAT_ID: FLOPs over every token's experts, weight bytes over the distinct experts used", () => {
  // 8 experts of q4_0 [256, 128]; 3 tokens, 2 experts each; src1 broadcast over the experts
  const input = {
    op: "MUL_MAT_ID",
    dst: t("f32", 128, 2, 3),
    src: [t("q4_0", 256, 128, 8), t("f32", 256, 1, 3), t("i32", 2, 3)],
  };
  const perExpert = (256 / 32) * 18 * 128; // 18,432
  const rest = 256 * 3 * 4 + 2 * 3 * 4 + 128 * 2 * 3 * 4; // src1 + ids + dst = 6,168
  const used = model.cost({ ...input, expertsUsed: 4 });
  assert.equal(used.flops, 2 * 256 * 128 * 2 * 3);
  assert.equal(used.bytes, 4 * perExpert + rest);
  assert.equal(used.conversion?.to, "q8_0");
  const unknown = model.cost(input);
  assert.equal(unknown.bytes, 6 * perExpert + rest, "at most n_used x tokens = 6 of the 8 experts");
  assert.match(unknown.notes.join(), /assumed 6 distinct experts/);
});

test("element-wise, norms and softmax: FLOPs per element by convention, bytes of every operand", () => {
  const add = model.cost({ op: "ADD", dst: t("f32", 256, 9), src: [t("f32", 256, 9), t("f32", 256, 9)] });
  assert.deepEqual([add.flops, add.bytes], [2304, 3 * 9216]);
  const norm = model.cost({ op: "RMS_NORM", dst: t("f32", 256, 9), src: [t("f32", 256, 9)] });
  assert.deepEqual([norm.flops, norm.bytes], [3 * 2304, 2 * 9216]);
  const glu = model.cost({ op: "GLU", dst: t("f32", 768, 9), src: [t("f32", 768, 9), t("f32", 768, 9)] });
  assert.deepEqual([glu.flops, glu.bytes], [2 * 768 * 9, 3 * 768 * 9 * 4]);
  const softmax = model.cost({ op: "SOFT_MAX", dst: t("f32", 256, 9, 8), src: [t("f32", 256, 9, 8), t("f16", 256, 9)] });
  assert.deepEqual([softmax.flops, softmax.bytes], [7 * 256 * 9 * 8, 73728 + 256 * 9 * 2 + 73728]);
  const rope = model.cost({ op: "ROPE", dst: t("f32", 32, 8, 9), src: [t("f32", 32, 8, 9), t("i32", 9)] });
  assert.deepEqual([rope.flops, rope.bytes], [3 * 32 * 8 * 9, 2 * 32 * 8 * 9 * 4 + 36]);
});

test("FLASH_ATTN_EXT: QK^T and PV per query, key and head, plus the softmax; V assumed like K when missing", () => {
  const q = t("f32", 32, 9, 8);
  const k = t("f16", 32, 256, 2);
  const full = model.cost({ op: "FLASH_ATTN_EXT", dst: t("f32", 32, 8, 9), src: [q, k, t("f16", 32, 256, 2), t("f16", 256, 16)] });
  assert.equal(full.flops, 8 * 9 * 256 * (2 * 32 + 2 * 32 + 7));
  assert.equal(full.bytes, 9216 + 32768 + 32768 + 256 * 16 * 2 + 9216);
  const partial = model.cost({ op: "FLASH_ATTN_EXT", dst: t("f32", 32, 8, 9), src: [q, k] });
  assert.equal(partial.flops, 8 * 9 * 256 * (2 * 32 + 2 * 32 + 6));
  assert.equal(partial.bytes, 9216 + 32768 + 32768 + 9216);
  assert.match(partial.notes.join(), /V not recorded/);
});

test("data movement has null FLOPs, not 0; views move nothing", () => {
  const rows = model.cost({ op: "GET_ROWS", dst: t("f32", 256, 9), src: [t("q4_0", 256, 4096), t("i32", 9)] });
  assert.deepEqual([rows.flops, rows.bytes], [null, 9 * 8 * 18 + 36 + 9216], "only the 9 rows picked are read");
  const set = model.cost({ op: "SET_ROWS", dst: t("f16", 64, 2048), src: [t("f32", 64, 9), t("i64", 9)] });
  assert.deepEqual([set.flops, set.bytes], [null, 64 * 9 * 2 + 64 * 9 * 4 + 72], "9 rows written into the cache, not all 2048");
  const cpy = model.cost({ op: "CPY", dst: t("f16", 256), src: [t("f32", 256), t("f16", 256)] });
  assert.deepEqual([cpy.flops, cpy.bytes], [null, 1024 + 512]);
  const view = model.cost({ op: "VIEW", dst: t("f32", 256), src: [t("f32", 256)] });
  assert.deepEqual([view.flops, view.bytes], [null, 0]);
});

test("an op without a formula and a type the profile does not list are said, not guessed", () => {
  const unknownOp = model.cost({ op: "CUSTOM", dst: t("f32", 16), src: [t("f32", 16)] });
  assert.deepEqual([unknownOp.flops, unknownOp.bytes], [null, 128]);
  assert.match(unknownOp.notes.join(), /no FLOP formula for CUSTOM/);
  const unknownType = model.cost({ op: "ADD", dst: t("f32", 16), src: [t("f32", 16), t("mxfp9", 16)] });
  assert.equal(unknownType.bytes, null);
  assert.match(unknownType.notes.join(), /mxfp9 is not in the profile's type table/);
  assert.equal(model.bytesOf(t("DEPRECATED", 16)), null, "a type with no block size is no type");
});

test("a fused group counts both ops' FLOPs and leaves out the intermediate result's write and read", () => {
  const norm = model.cost({ op: "RMS_NORM", dst: t("f32", 256, 9), src: [t("f32", 256, 9)] });
  const mul = model.cost({ op: "MUL", dst: t("f32", 256, 9), src: [t("f32", 256, 9), t("f32", 256)] });
  const fused = fusedCost(norm, mul, 9216);
  assert.equal(fused.flops, 3 * 2304 + 2304);
  assert.equal(fused.bytes, 9216 + 1024 + 9216, "input, weight, result");
});
