/**
 * What one run of a ggml op costs by definition: floating-point operations and the minimum bytes it
 * must move (each source read once, the result written once), from the op's name, the types and
 * shapes of its result and sources, and the target's type traits (block size and bytes per block
 * from the profile header: nothing about a type's size is assumed here).
 *
 * Conventions, so that numbers can be checked by hand:
 * - a multiply-add is 2 FLOPs; MUL_MAT is 2*K*M*N per matrix of the batch dims;
 * - an activation function (UNARY, the gate of GLU, SQRT, EXP...) counts 1 FLOP per element however
 *   many instructions it takes; so does each exp of a softmax;
 * - RMS_NORM 3 FLOPs per element (square, sum, scale), NORM 5 (sum, subtract, square, sum, scale);
 * - SOFT_MAX 6 per element (scale, max, subtract, exp, sum, normalize), 7 with a mask (add);
 * - ROPE 3 per element (a rotation is 4 multiplies and 2 adds per pair), over all of ne0 (the count of
 *   rotated dims is an op parameter the profile does not carry);
 * - FLASH_ATTN_EXT per query, key and head: 2*D (QK^T) + 2*Dv (PV) + the SOFT_MAX count;
 * - data movement (GET_ROWS, SET_ROWS, CPY, CONT...) has no meaningful FLOPs: null, not 0.
 */
import type { TypeInfo } from "./stream";

/** A tensor as the cost model needs it: type name and shape (ne, 4 dims). */
export interface Tensor {
  type: string;
  ne: number[];
}

export interface CostInput {
  op: string;
  dst: Tensor;
  /** Sources by slot; undefined where the profile does not say (no source, or not recorded). */
  src: (Tensor | undefined)[];
  /** MUL_MAT_ID: the distinct experts this run used, when the profile recorded the selection. */
  expertsUsed?: number;
  /** MUL_MAT_ID: the expert selection was cut at the record's capacity (the count is a lower bound). */
  expertsTruncated?: boolean;
}

/** MUL_MAT(_ID) on the CPU backend: src1 converted to the type the dot product of src0's type takes. */
export interface Conversion {
  from: string;
  to: string;
  /** Bytes of the converted copy (written once, then read by the dot products). */
  bytes: number;
  /** "profile": the target's vec_dot_type was recorded; "assumed": inferred (see assumptions). */
  source: "profile" | "assumed";
}

export interface OpCost {
  /** Floating-point operations; null where the op has none that mean anything, or a shape is unknown. */
  flops: number | null;
  /** Minimum bytes moved; null where a needed source's type or shape is unknown. */
  bytes: number | null;
  conversion?: Conversion;
  /** Why a figure is null, and what was assumed to get it. */
  notes: string[];
}

/** Ops that compute nothing: views of existing data. */
const VIEW_OPS = new Set(["NONE", "VIEW", "RESHAPE", "PERMUTE", "TRANSPOSE"]);
/** Ops that move or reorder data without arithmetic: FLOPs null, bytes = sources + result. */
const MOVE_OPS = new Set(["DUP", "CPY", "CONT", "CONCAT", "REPEAT", "PAD", "ROLL", "GET_REL_POS", "DIAG", "ACC", "SET"]);
/** Element-wise ops with two operands: one FLOP per result element. */
const BINARY_OPS = new Set(["ADD", "ADD1", "ADD_ID", "SUB", "MUL", "DIV"]);
/** Element-wise ops with one operand: one FLOP per result element (activations by convention). */
const UNARY_OPS = new Set(["UNARY", "SQR", "SQRT", "LOG", "SIN", "COS", "SCALE", "CLAMP", "LEAKY_RELU", "EXP", "ABS", "NEG", "STEP", "RELU", "GELU", "SILU", "TANH", "ELU", "SIGMOID", "HARDSWISH", "HARDSIGMOID"]);
/** Reductions: one FLOP per source element. */
const REDUCE_OPS = new Set(["SUM", "SUM_ROWS", "MEAN", "ARGMAX", "COUNT_EQUAL"]);
/** FLOPs per element of the normalizations. */
const NORM_FLOPS: Record<string, number> = { RMS_NORM: 3, L2_NORM: 3, NORM: 5, GROUP_NORM: 5 };
const SOFTMAX_FLOPS = 6;
const ROPE_FLOPS = 3;

export function elements(t: Tensor): number {
  return t.ne.reduce((n, d) => n * d, 1);
}

/** Type traits by name, and the conversions of MUL_MAT's src1. */
export class CostModel {
  private readonly traits = new Map<string, TypeInfo>();

  /**
   * `types`: the profile header's type traits; `vecDotTypes`: src0 type name -> the type src1 is
   * converted to, where the target's CPU backend said so (else inferred, and the note says so).
   */
  constructor(
    types: TypeInfo[],
    private readonly vecDotTypes: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const t of types) if (t.blck_size > 0 && !this.traits.has(t.name)) this.traits.set(t.name, t);
  }

  /** Bytes of a tensor stored contiguously in its type; null for a type the profile does not list. */
  bytesOf(t: Tensor): number | null {
    const traits = this.traits.get(t.type);
    if (!traits) return null;
    const [ne0, ...rest] = t.ne;
    return (Math.ceil(ne0 / traits.blck_size) * traits.type_size * rest.reduce((n, d) => n * d, 1));
  }

  cost(input: CostInput): OpCost {
    const op = input.op;
    if (VIEW_OPS.has(op)) return { flops: null, bytes: 0, notes: [`${op} is a view: no data moved`] };
    if (op === "MUL_MAT") return this.mulMat(input);
    if (op === "MUL_MAT_ID") return this.mulMatId(input);
    if (op === "FLASH_ATTN_EXT") return this.flashAttention(input);
    if (op === "GET_ROWS") return this.getRows(input);
    if (op === "SET_ROWS") return this.setRows(input);
    if (op === "CPY") return this.withBytes(input, null, [input.src[0]]);
    if (MOVE_OPS.has(op)) return this.withBytes(input, null, input.src);
    if (BINARY_OPS.has(op) || UNARY_OPS.has(op)) return this.withBytes(input, elements(input.dst), input.src);
    if (op === "GLU") return this.withBytes(input, 2 * elements(input.dst), input.src);
    if (REDUCE_OPS.has(op)) return this.reduction(input);
    if (NORM_FLOPS[op] !== undefined) return this.withBytes(input, NORM_FLOPS[op] * elements(input.dst), [input.src[0]]);
    if (op === "SOFT_MAX") return this.withBytes(input, (SOFTMAX_FLOPS + (input.src[1] ? 1 : 0)) * elements(input.dst), input.src);
    if (op === "ROPE") return this.rope(input);
    const cost = this.withBytes(input, null, input.src);
    cost.notes.push(`no FLOP formula for ${op}`);
    return cost;
  }

  /** Sum of the result and of `sources` (undefined slots skipped); null when a type is unknown. */
  private withBytes(input: CostInput, flops: number | null, sources: (Tensor | undefined)[]): OpCost {
    const notes: string[] = [];
    let bytes: number | null = this.bytesOf(input.dst);
    if (bytes === null) notes.push(`type ${input.dst.type} is not in the profile's type table`);
    for (const s of sources) {
      if (!s) continue;
      const b = this.bytesOf(s);
      if (b === null) notes.push(`type ${s.type} is not in the profile's type table`);
      bytes = bytes === null || b === null ? null : bytes + b;
    }
    return { flops, bytes, notes };
  }

  /** The type src1 is converted to for src0's dot product: recorded by the profile, else inferred. */
  vecDotType(src0Type: string): { type: string; source: "profile" | "assumed" } {
    const recorded = this.vecDotTypes.get(src0Type);
    if (recorded) return { type: recorded, source: "profile" };
    const traits = this.traits.get(src0Type);
    if (!traits?.is_quantized) return { type: src0Type, source: "assumed" };
    // ggml's CPU backend: 32-element quants take q8_0 (q8_1 for the "_1" types with a min), the
    // 256-element k-quants and i-quants take q8_K.
    const sameBlock = [...this.traits.values()].filter((t) => t.name.startsWith("q8_") && t.blck_size === traits.blck_size);
    const preferred = src0Type.endsWith("_1") ? "q8_1" : traits.blck_size === 32 ? "q8_0" : "q8_K";
    const pick = sameBlock.find((t) => t.name === preferred) ?? sameBlock[0];
    return { type: pick?.name ?? "q8_0", source: "assumed" };
  }

  private conversion(src0: Tensor | undefined, src1: Tensor | undefined): Conversion | undefined {
    if (!src0 || !src1) return undefined;
    const target = this.vecDotType(src0.type);
    if (target.type === src1.type) return undefined;
    const bytes = this.bytesOf({ type: target.type, ne: src1.ne });
    return bytes === null ? undefined : { from: src1.type, to: target.type, bytes, source: target.source };
  }

  /** dst[M, N, b2, b3] = src0[K, M, ...] x src1[K, N, b2, b3]: 2*K*M*N*b2*b3. */
  private mulMat(input: CostInput): OpCost {
    const [src0, src1] = input.src;
    const k = src0?.ne[0] ?? src1?.ne[0];
    const [m, n, b2, b3] = input.dst.ne;
    const flops = k === undefined ? null : 2 * k * m * n * b2 * b3;
    const cost = this.withBytes(input, flops, [src0, src1]);
    if (k === undefined) cost.notes.push("MUL_MAT: neither source's shape is recorded, K unknown");
    if (!src0) {
      cost.bytes = null;
      cost.notes.push("MUL_MAT: the type of src0 (the weights) is not recorded in this profile");
    }
    cost.conversion = this.conversion(src0, src1);
    return cost;
  }

  /**
   * dst[M, n_used, n_tokens]: each token runs its n_used experts' src0[K, M] on its src1 row:
   * 2*K*M*n_used*n_tokens FLOPs; of the expert weights only the experts used are read.
   */
  private mulMatId(input: CostInput): OpCost {
    const [src0, src1, ids] = input.src;
    const [m, nUsed, nTokens] = input.dst.ne;
    const k = src0?.ne[0] ?? src1?.ne[0];
    const notes: string[] = [];
    const flops = k === undefined ? null : 2 * k * m * nUsed * nTokens;
    if (k === undefined) notes.push("MUL_MAT_ID: neither source's shape is recorded, K unknown");
    let expertBytes: number | null = null;
    if (src0) {
      const all = this.bytesOf(src0);
      const nExpert = src0.ne[2];
      let used = input.expertsUsed;
      if (used === undefined) {
        used = Math.min(nExpert, nUsed * nTokens);
        notes.push(`MUL_MAT_ID: no expert selection recorded for a run: assumed ${used} distinct experts (at most n_used x tokens)`);
      } else if (input.expertsTruncated) {
        notes.push("MUL_MAT_ID: the expert selection was cut at the record's capacity: distinct experts is a lower bound");
      }
      expertBytes = all === null ? null : (all / nExpert) * used;
    } else notes.push("MUL_MAT_ID: the type of src0 (the expert weights) is not recorded in this profile");
    const rest = this.withBytes(input, flops, [src1, ids]);
    return {
      flops,
      bytes: expertBytes === null || rest.bytes === null ? null : expertBytes + rest.bytes,
      conversion: this.conversion(src0, src1),
      notes: [...notes, ...rest.notes],
    };
  }

  /** q[D, n_q, H, B], k[D, n_kv, H_kv, B], v[Dv, n_kv, H_kv, B], mask; dst[Dv, H, n_q, B]. */
  private flashAttention(input: CostInput): OpCost {
    const [q, k, v, mask] = input.src;
    const notes: string[] = [];
    if (!q || !k) {
      const cost = this.withBytes(input, null, input.src);
      return { ...cost, bytes: null, notes: [...cost.notes, "FLASH_ATTN_EXT: the shape of Q or K is not recorded"] };
    }
    const [d, nq, h, b] = q.ne;
    const nkv = k.ne[1];
    const dv = input.dst.ne[0];
    const softmax = SOFTMAX_FLOPS + (mask ? 1 : 0);
    const flops = h * b * nq * nkv * (2 * d + 2 * dv + softmax);
    let values = v;
    if (!values) {
      values = { type: k.type, ne: [dv, nkv, k.ne[2], k.ne[3]] };
      notes.push("FLASH_ATTN_EXT: V not recorded: assumed K's type with the result's head size");
    }
    if (!mask) notes.push("FLASH_ATTN_EXT: no mask recorded: its bytes and its add are not counted");
    const cost = this.withBytes(input, flops, [q, k, values, mask]);
    return { ...cost, notes: [...notes, ...cost.notes] };
  }

  /** dst rows = src0 rows picked by src1: reads only the rows picked. */
  private getRows(input: CostInput): OpCost {
    const [table, ids] = input.src;
    if (!table || !ids) return { flops: null, bytes: null, notes: ["GET_ROWS: the table or the row ids are not recorded"] };
    const rows = this.bytesOf({ type: table.type, ne: [table.ne[0], elements(ids), 1, 1] });
    const rest = this.withBytes(input, null, [ids]);
    return { flops: null, bytes: rows === null || rest.bytes === null ? null : rows + rest.bytes, notes: rest.notes };
  }

  /** src0 rows written into dst (a view of, e.g., the KV cache) at the rows src1 names. */
  private setRows(input: CostInput): OpCost {
    const [rows, ids] = input.src;
    if (!rows || !ids) return { flops: null, bytes: null, notes: ["SET_ROWS: the rows or their ids are not recorded"] };
    const written = this.bytesOf({ type: input.dst.type, ne: [rows.ne[0], rows.ne[1] * rows.ne[2] * rows.ne[3], 1, 1] });
    const read = [this.bytesOf(rows), this.bytesOf(ids)];
    const bytes = written === null || read.includes(null) ? null : written + (read[0] ?? 0) + (read[1] ?? 0);
    return { flops: null, bytes, notes: bytes === null ? [`SET_ROWS: a type is not in the profile's type table`] : [] };
  }

  private reduction(input: CostInput): OpCost {
    const src = input.src[0];
    const flops = src ? elements(src) : null;
    const cost = this.withBytes(input, flops, [src]);
    if (!src) cost.notes.push(`${input.op}: the source's shape is not recorded`);
    return cost;
  }

  private rope(input: CostInput): OpCost {
    const cost = this.withBytes(input, ROPE_FLOPS * elements(input.dst), input.src.slice(0, 3));
    cost.notes.push("ROPE: all of ne0 counted as rotated (the rotated dims are not recorded)");
    return cost;
  }
}

/**
 * A fused group "A+B" run as one span: both ops' FLOPs; A's result is consumed in place, so its
 * write and B's read of it are taken off the bytes.
 */
export function fusedCost(first: OpCost, second: OpCost, intermediateBytes: number | null): OpCost {
  const flops = first.flops === null && second.flops === null ? null : (first.flops ?? 0) + (second.flops ?? 0);
  const bytes =
    first.bytes === null || second.bytes === null || intermediateBytes === null ? null : first.bytes + second.bytes - 2 * intermediateBytes;
  return { flops, bytes, notes: [...first.notes, ...second.notes] };
}
