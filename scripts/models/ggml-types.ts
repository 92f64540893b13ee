// The ggml tensor types the model generator writes, with their block layouts (ggml-common.h:
// block_q8_0 = f16 scale + 32 int8, block_q4_0 = f16 scale + 16 bytes of 4-bit quants).

/** Values are ggml's `enum ggml_type` numbers, as stored in a GGUF tensor info. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
}

/** The block-quantized types. */
export type QuantType = GgmlType.Q8_0 | GgmlType.Q4_0;

interface TypeLayout {
  /** Elements per block (1 for plain float types). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

const LAYOUTS: Record<GgmlType, TypeLayout> = {
  [GgmlType.F32]: { blockSize: 1, blockBytes: 4 },
  [GgmlType.F16]: { blockSize: 1, blockBytes: 2 },
  [GgmlType.Q4_0]: { blockSize: 32, blockBytes: 18 },
  [GgmlType.Q8_0]: { blockSize: 32, blockBytes: 34 },
};

export function typeLayout(type: GgmlType): TypeLayout {
  return LAYOUTS[type];
}

export function typeName(type: GgmlType): string {
  return GgmlType[type];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Bytes of a tensor of `shape` (ggml order: shape[0] is the contiguous row). */
export function tensorBytes(type: GgmlType, shape: readonly number[]): number {
  const { blockSize, blockBytes } = LAYOUTS[type];
  if (shape.length === 0 || shape[0] % blockSize !== 0) {
    throw new Error(`${typeName(type)} needs rows that are a multiple of ${blockSize} elements, got shape [${shape.join(", ")}]`);
  }
  return (elementCount(shape) / blockSize) * blockBytes;
}
