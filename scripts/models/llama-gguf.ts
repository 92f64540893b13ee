// The GGUF contents of a llama-architecture model: metadata keys and tensors as llama.cpp reads
// them (src/llama-arch.cpp names, src/models/llama.cpp shapes; shapes in ggml order, row first).
import type { Metadata, TensorToWrite } from "./gguf-writer";
import { GgmlType } from "./ggml-types";
import { type ModelSpec, NORM_TYPE } from "./model-specs";
import { buildSpmVocab } from "./tokenizer";
import { type TensorInit, tensorChunks } from "./weights";

const ROPE_FREQ_BASE = 10000;
const RMS_EPSILON = 1e-5;

/** llama.cpp's `enum llama_ftype` for a file whose FFN weights (most of the bytes) have this type. */
const FILE_TYPES: Record<GgmlType, number> = {
  [GgmlType.F32]: 0, // ALL_F32
  [GgmlType.F16]: 1, // MOSTLY_F16
  [GgmlType.Q4_0]: 2, // MOSTLY_Q4_0
  [GgmlType.Q8_0]: 7, // MOSTLY_Q8_0
};

function headDim(spec: ModelSpec): number {
  return spec.embd / spec.heads;
}

function architectureMetadata(spec: ModelSpec): Metadata {
  const u32 = (value: number) => ({ type: "u32", value }) as const;
  const moe: Metadata = spec.moe
    ? [
        ["llama.expert_count", u32(spec.moe.experts)],
        ["llama.expert_used_count", u32(spec.moe.expertsUsed)],
      ]
    : [];
  return [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: `ggml-lens synthetic ${spec.name}` }],
    ["general.file_type", u32(FILE_TYPES[spec.types.ffn])],
    ["llama.context_length", u32(spec.contextLength)],
    ["llama.embedding_length", u32(spec.embd)],
    ["llama.block_count", u32(spec.layers)],
    ["llama.feed_forward_length", u32(spec.ffn)],
    ["llama.attention.head_count", u32(spec.heads)],
    ["llama.attention.head_count_kv", u32(spec.kvHeads)],
    ["llama.rope.dimension_count", u32(headDim(spec))],
    ["llama.rope.freq_base", { type: "f32", value: ROPE_FREQ_BASE }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: RMS_EPSILON }],
    ["llama.vocab_size", u32(spec.vocab)],
    ...moe,
  ];
}

function tokenizerMetadata(spec: ModelSpec): Metadata {
  const vocab = buildSpmVocab(spec.vocab);
  return [
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "f32[]", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: vocab.unkId }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: vocab.bosId }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: vocab.eosId }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
  ];
}

export function llamaMetadata(spec: ModelSpec): Metadata {
  return [...architectureMetadata(spec), ...tokenizerMetadata(spec)];
}

interface TensorPlan {
  name: string;
  shape: number[];
  type: GgmlType;
  init: TensorInit;
}

function ffnTensors(spec: ModelSpec, prefix: string): TensorPlan[] {
  const { embd, ffn, types } = spec;
  const weight = (name: string, shape: number[], type = types.ffn): TensorPlan => ({
    name: `${prefix}.${name}.weight`,
    shape,
    type,
    init: "random",
  });
  if (!spec.moe) {
    return [weight("ffn_gate", [embd, ffn]), weight("ffn_up", [embd, ffn]), weight("ffn_down", [ffn, embd])];
  }
  const { experts, routerType } = spec.moe;
  return [
    weight("ffn_gate_inp", [embd, experts], routerType),
    weight("ffn_gate_exps", [embd, ffn, experts]),
    weight("ffn_up_exps", [embd, ffn, experts]),
    weight("ffn_down_exps", [ffn, embd, experts]),
  ];
}

function layerTensors(spec: ModelSpec, layer: number): TensorPlan[] {
  const prefix = `blk.${layer}`;
  const { embd, types } = spec;
  const kvWidth = spec.kvHeads * headDim(spec);
  const norm = (name: string): TensorPlan => ({ name: `${prefix}.${name}.weight`, shape: [embd], type: NORM_TYPE, init: "ones" });
  const attention = (name: string, shape: number[]): TensorPlan => ({
    name: `${prefix}.${name}.weight`,
    shape,
    type: types.attention,
    init: "random",
  });
  return [
    norm("attn_norm"),
    attention("attn_q", [embd, embd]),
    attention("attn_k", [embd, kvWidth]),
    attention("attn_v", [embd, kvWidth]),
    attention("attn_output", [embd, embd]),
    norm("ffn_norm"),
    ...ffnTensors(spec, prefix),
  ];
}

function tensorPlans(spec: ModelSpec): TensorPlan[] {
  const { embd, vocab, types } = spec;
  const layers = Array.from({ length: spec.layers }, (_, i) => layerTensors(spec, i));
  return [
    { name: "token_embd.weight", shape: [embd, vocab], type: types.embedding, init: "random" },
    ...layers.flat(),
    { name: "output_norm.weight", shape: [embd], type: NORM_TYPE, init: "ones" },
    { name: "output.weight", shape: [embd, vocab], type: types.output, init: "random" },
  ];
}

/** The model's tensors; each one's random values are seeded by the model and tensor names. */
export function llamaTensors(spec: ModelSpec): TensorToWrite[] {
  return tensorPlans(spec).map(({ name, shape, type, init }) => ({
    name,
    shape,
    type,
    chunks: () => tensorChunks(type, shape, init, spec.quantFill, `${spec.name}/${name}`),
  }));
}
