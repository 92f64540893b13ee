// Tensor contents for the synthetic models: numerically sane random weights (root mean square
// 0.02, like a freshly initialised transformer), norms of 1.0, seeded so that every run writes
// the same bytes. Produced in chunks, so a tensor of any size needs little memory.
import { GgmlType, type QuantType, elementCount, typeLayout } from "./ggml-types";
import { encodeValues, randomBlocks } from "./quantize";
import { Rng } from "./random";

const WEIGHT_RMS = 0.02;
/** Elements per chunk: a multiple of every block size. */
const CHUNK_ELEMENTS = 1 << 22;

/**
 * How quantized weights are made: "quantize" draws Gaussian floats and quantizes them like
 * llama-quantize would; "randomBlocks" writes random quants and scales directly (much faster,
 * for the 1B-class benchmark models). Float tensors are always Gaussian.
 */
export type QuantFill = "quantize" | "randomBlocks";

export type TensorInit = "ones" | "random";

function* chunkSizes(total: number): Generator<number> {
  for (let done = 0; done < total; done += CHUNK_ELEMENTS) {
    yield Math.min(CHUNK_ELEMENTS, total - done);
  }
}

function* onesChunks(type: GgmlType, count: number): Generator<Uint8Array> {
  for (const n of chunkSizes(count)) yield encodeValues(type, new Float32Array(n).fill(1));
}

function* gaussianChunks(type: GgmlType, count: number, rng: Rng): Generator<Uint8Array> {
  for (const n of chunkSizes(count)) {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = rng.gaussian() * WEIGHT_RMS;
    yield encodeValues(type, values);
  }
}

function* randomBlockChunks(type: QuantType, count: number, rng: Rng): Generator<Uint8Array> {
  const { blockSize } = typeLayout(type);
  for (const n of chunkSizes(count)) yield randomBlocks(type, n / blockSize, rng, WEIGHT_RMS);
}

/** The bytes of one tensor; `seed` makes its random values (use one seed per tensor). */
export function tensorChunks(
  type: GgmlType,
  shape: readonly number[],
  init: TensorInit,
  quantFill: QuantFill,
  seed: string,
): Iterable<Uint8Array> {
  const count = elementCount(shape);
  if (init === "ones") return onesChunks(type, count);
  const rng = new Rng(seed);
  if (quantFill === "randomBlocks" && (type === GgmlType.Q8_0 || type === GgmlType.Q4_0)) {
    return randomBlockChunks(type, count, rng);
  }
  return gaussianChunks(type, count, rng);
}
