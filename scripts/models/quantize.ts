// Encoding of float values into the ggml tensor types (F32, F16, Q8_0, Q4_0), following ggml's
// reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref in ggml-quants.c) with f32
// arithmetic, and fast random quantized blocks for the large benchmark models.
import { GgmlType, type QuantType, typeLayout } from "./ggml-types";
import type { Rng } from "./random";

const f32Scratch = new Float32Array(1);
const f32Bits = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of `value`, rounded to nearest even (as F16C and ggml's fallback do). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = f32Bits[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) {
    return sign | (mantissa === 0 ? 0x7c00 : 0x7e00);
  }
  const e = exponent - 127 + 15;
  if (e >= 0x1f) {
    return sign | 0x7c00;
  }
  if (e > 0) {
    return sign | roundShift((e << 23) | mantissa, 13);
  }
  if (e < -10) {
    return sign;
  }
  return sign | roundShift(mantissa | 0x800000, 14 - e);
}

/** `bits >> shift`, rounded to nearest, ties to even (a carry may run into the exponent: intended). */
function roundShift(bits: number, shift: number): number {
  const kept = bits >>> shift;
  const rest = bits & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** C `roundf`: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function encodeQ8_0Block(values: Float32Array, first: number, out: DataView, at: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) {
    amax = Math.max(amax, Math.abs(values[first + j]));
  }
  const d = Math.fround(amax / 127);
  const id = d === 0 ? 0 : Math.fround(1 / d);
  out.setUint16(at, f32ToF16Bits(d), true);
  for (let j = 0; j < 32; j++) {
    out.setInt8(at + 2 + j, roundHalfAway(Math.fround(values[first + j] * id)));
  }
}

function encodeQ4_0Block(values: Float32Array, first: number, out: DataView, at: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = values[first + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = Math.fround(max / -8);
  const id = d === 0 ? 0 : Math.fround(1 / d);
  out.setUint16(at, f32ToF16Bits(d), true);
  const nibble = (v: number): number => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
  for (let j = 0; j < 16; j++) {
    out.setUint8(at + 2 + j, nibble(values[first + j]) | (nibble(values[first + 16 + j]) << 4));
  }
}

/** `values` encoded as `type`; its length must be a multiple of the type's block size. */
export function encodeValues(type: GgmlType, values: Float32Array): Uint8Array {
  const { blockSize, blockBytes } = typeLayout(type);
  if (values.length % blockSize !== 0) {
    throw new Error(`${GgmlType[type]}: ${values.length} values is not a whole number of ${blockSize}-value blocks`);
  }
  const out = new Uint8Array((values.length / blockSize) * blockBytes);
  const view = new DataView(out.buffer);
  switch (type) {
    case GgmlType.F32:
      out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      break;
    case GgmlType.F16:
      values.forEach((v, i) => view.setUint16(2 * i, f32ToF16Bits(v), true));
      break;
    case GgmlType.Q8_0:
      for (let b = 0; b * 32 < values.length; b++) encodeQ8_0Block(values, b * 32, view, b * blockBytes);
      break;
    case GgmlType.Q4_0:
      for (let b = 0; b * 32 < values.length; b++) encodeQ4_0Block(values, b * 32, view, b * blockBytes);
      break;
  }
  return out;
}

/** Root mean square of the integer quants of a type when its bits are uniformly random. */
function randomQuantRms(type: QuantType): number {
  const [lo, hi] = type === GgmlType.Q8_0 ? [-128, 127] : [-8, 7];
  let sum = 0;
  for (let k = lo; k <= hi; k++) sum += k * k;
  return Math.sqrt(sum / (hi - lo + 1));
}

/**
 * 256 f16 block scales spread over [0.5, 1.5] x the scale that gives weights of root mean
 * square `rms` when the quants are uniformly random.
 */
function scaleTable(type: QuantType, rms: number): Uint16Array {
  const base = rms / randomQuantRms(type);
  return Uint16Array.from({ length: 256 }, (_, i) => f32ToF16Bits(base * (0.5 + i / 255)));
}

/**
 * `blockCount` blocks of `type` with uniformly random quants and a random scale each, made
 * directly as bytes (no floats to quantize): the weights have root mean square about `rms`.
 */
export function randomBlocks(type: QuantType, blockCount: number, rng: Rng, rms: number): Uint8Array {
  const { blockBytes } = typeLayout(type);
  const scales = scaleTable(type, rms);
  const out = new Uint8Array(blockCount * blockBytes);
  rng.fillBytes(out);
  for (let at = 0; at < out.length; at += blockBytes) {
    const scale = scales[out[at]];
    out[at] = scale & 0xff;
    out[at + 1] = scale >>> 8;
  }
  return out;
}
