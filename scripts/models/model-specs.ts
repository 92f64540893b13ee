// The synthetic llama-architecture models: two tiny ones for correctness tests (a few MB, mixed
// tensor types) and, with --bench, 1B-class ones for overhead measurements.
import { GgmlType, typeName } from "./ggml-types";
import type { QuantFill } from "./weights";

export interface TensorTypes {
  /** token_embd (read with GET_ROWS). */
  embedding: GgmlType;
  /** output (the LM head). */
  output: GgmlType;
  /** attn_q, attn_k, attn_v, attn_output. */
  attention: GgmlType;
  /** ffn_gate, ffn_up, ffn_down, or the ffn_*_exps expert tensors of a MoE. */
  ffn: GgmlType;
}

export interface MoeSpec {
  experts: number;
  expertsUsed: number;
  /** ffn_gate_inp, the router. */
  routerType: GgmlType;
}

export interface ModelSpec {
  /** Manifest key and file name. */
  name: string;
  /** Benchmark size: made only with --bench. */
  bench: boolean;
  layers: number;
  embd: number;
  heads: number;
  kvHeads: number;
  /** FFN width (of each expert in a MoE). */
  ffn: number;
  vocab: number;
  contextLength: number;
  types: TensorTypes;
  moe?: MoeSpec;
  quantFill: QuantFill;
}

/** The type of every norm weight (attn_norm, ffn_norm, output_norm): ggml multiplies by them in f32. */
export const NORM_TYPE = GgmlType.F32;

/** 1.1B-class shape (TinyLlama-like): 2048 wide, 16 layers, 32 heads / 8 kv heads, 32k vocab. */
const BENCH_SHAPE = { layers: 16, embd: 2048, heads: 32, kvHeads: 8, vocab: 32000, contextLength: 2048 };

function allOf(type: GgmlType): TensorTypes {
  return { embedding: type, output: type, attention: type, ffn: type };
}

export const MODEL_SPECS: readonly ModelSpec[] = [
  {
    name: "tinyDense",
    bench: false,
    layers: 4,
    embd: 256,
    heads: 8,
    kvHeads: 2,
    ffn: 768,
    vocab: 4096,
    contextLength: 2048,
    types: { embedding: GgmlType.F16, output: GgmlType.Q8_0, attention: GgmlType.Q8_0, ffn: GgmlType.Q4_0 },
    quantFill: "quantize",
  },
  {
    name: "tinyMoe",
    bench: false,
    layers: 4,
    embd: 256,
    heads: 8,
    kvHeads: 2,
    ffn: 512,
    vocab: 4096,
    contextLength: 2048,
    types: { embedding: GgmlType.Q8_0, output: GgmlType.F16, attention: GgmlType.Q4_0, ffn: GgmlType.Q8_0 },
    moe: { experts: 4, expertsUsed: 2, routerType: GgmlType.F32 },
    quantFill: "quantize",
  },
  { name: "benchDenseQ4_0", bench: true, ...BENCH_SHAPE, ffn: 8192, types: allOf(GgmlType.Q4_0), quantFill: "randomBlocks" },
  { name: "benchDenseQ8_0", bench: true, ...BENCH_SHAPE, ffn: 8192, types: allOf(GgmlType.Q8_0), quantFill: "randomBlocks" },
  {
    // Same active parameters per token as the dense 1B: 2 of 8 experts of width 4096 = one FFN of 8192.
    name: "benchMoe",
    bench: true,
    ...BENCH_SHAPE,
    ffn: 4096,
    types: allOf(GgmlType.Q4_0),
    moe: { experts: 8, expertsUsed: 2, routerType: GgmlType.F32 },
    quantFill: "randomBlocks",
  },
];

export interface SpecSummary {
  layers: number;
  embd: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  contextLength: number;
  experts: number;
  expertsUsed: number;
  types: Record<string, string>;
}

/** The shape and types of a model as recorded in the manifest. */
export function specSummary(spec: ModelSpec): SpecSummary {
  const types: Record<string, string> = Object.fromEntries(
    Object.entries(spec.types).map(([role, type]: [string, GgmlType]) => [role, typeName(type)]),
  );
  if (spec.moe) types.router = typeName(spec.moe.routerType);
  types.norm = typeName(NORM_TYPE);
  return {
    layers: spec.layers,
    embd: spec.embd,
    heads: spec.heads,
    kvHeads: spec.kvHeads,
    ffn: spec.ffn,
    vocab: spec.vocab,
    contextLength: spec.contextLength,
    experts: spec.moe?.experts ?? 0,
    expertsUsed: spec.moe?.expertsUsed ?? 0,
    types,
  };
}
