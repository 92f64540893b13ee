// A streaming GGUF v3 writer (format: ggml/docs/gguf.md; reader: ggml/src/gguf.cpp).
// Layout: header (magic, version, tensor count, KV count), metadata KV pairs, tensor infos,
// padding to the alignment, then the tensor data, each tensor padded to the alignment. The header
// is built in memory; tensor data is written chunk by chunk, so a file of any size needs little
// memory. The SHA-256 of the file is computed while writing.
import crypto from "node:crypto";
import fs from "node:fs";
import { GgmlType, tensorBytes, typeName } from "./ggml-types";

export const GGUF_ALIGNMENT = 32;
const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const GGUF_VERSION = 3;
const GGML_MAX_NAME = 64; // ggml tensor names hold at most 63 bytes and a NUL

/** GGUF value type numbers (enum gguf_type). */
enum ValueType {
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
}

export type MetadataValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "u32[]"; value: ArrayLike<number> }
  | { type: "i32[]"; value: ArrayLike<number> }
  | { type: "f32[]"; value: ArrayLike<number> }
  | { type: "string[]"; value: readonly string[] };

export type Metadata = ReadonlyArray<readonly [key: string, value: MetadataValue]>;

export interface TensorToWrite {
  name: string;
  /** ggml order: shape[0] is the contiguous (row) dimension. */
  shape: readonly number[];
  type: GgmlType;
  /** The tensor's bytes, in pieces; called once, while the file is written. */
  chunks: () => Iterable<Uint8Array>;
}

export interface WrittenFile {
  bytes: number;
  sha256: string;
}

/** Little-endian encoder for the header, kept as a list of small buffers. */
class HeaderBuilder {
  private readonly parts: Buffer[] = [];
  private length = 0;

  get size(): number {
    return this.length;
  }

  private push(part: Buffer): void {
    this.parts.push(part);
    this.length += part.length;
  }

  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }

  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }

  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }

  f32(x: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    this.push(b);
  }

  bool(v: boolean): void {
    this.push(Buffer.from([v ? 1 : 0]));
  }

  string(s: string): void {
    const utf8 = Buffer.from(s, "utf8");
    this.u64(utf8.length);
    this.push(utf8);
  }

  zeros(n: number): void {
    this.push(Buffer.alloc(n));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function paddingTo(offset: number, alignment: number): number {
  return (alignment - (offset % alignment)) % alignment;
}

function writeArray<T>(h: HeaderBuilder, elementType: ValueType, items: ArrayLike<T>, put: (item: T) => void): void {
  h.u32(ValueType.Array);
  h.u32(elementType);
  h.u64(items.length);
  for (let i = 0; i < items.length; i++) put(items[i]);
}

function writeValue(h: HeaderBuilder, v: MetadataValue): void {
  switch (v.type) {
    case "u32":
      h.u32(ValueType.U32);
      h.u32(v.value);
      break;
    case "i32":
      h.u32(ValueType.I32);
      h.i32(v.value);
      break;
    case "f32":
      h.u32(ValueType.F32);
      h.f32(v.value);
      break;
    case "bool":
      h.u32(ValueType.Bool);
      h.bool(v.value);
      break;
    case "string":
      h.u32(ValueType.String);
      h.string(v.value);
      break;
    case "u32[]":
      writeArray(h, ValueType.U32, v.value, (n) => h.u32(n));
      break;
    case "i32[]":
      writeArray(h, ValueType.I32, v.value, (n) => h.i32(n));
      break;
    case "f32[]":
      writeArray(h, ValueType.F32, v.value, (x) => h.f32(x));
      break;
    case "string[]":
      writeArray(h, ValueType.String, v.value, (s) => h.string(s));
      break;
  }
}

function checkNames(metadata: Metadata, tensors: readonly TensorToWrite[]): void {
  const keys = new Set<string>();
  for (const [key] of metadata) {
    if (keys.has(key)) throw new Error(`duplicate metadata key ${key}`);
    keys.add(key);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    if (Buffer.byteLength(t.name) >= GGML_MAX_NAME) throw new Error(`tensor name too long for ggml: ${t.name}`);
    names.add(t.name);
  }
}

/** Everything before the tensor data, padded so that the data section starts aligned. */
function encodeHeader(metadata: Metadata, tensors: readonly TensorToWrite[]): Buffer {
  const kv: Metadata = [["general.alignment", { type: "u32", value: GGUF_ALIGNMENT }], ...metadata];
  checkNames(kv, tensors);
  const h = new HeaderBuilder();
  h.u32(GGUF_MAGIC);
  h.u32(GGUF_VERSION);
  h.u64(tensors.length);
  h.u64(kv.length);
  for (const [key, value] of kv) {
    h.string(key);
    writeValue(h, value);
  }
  let offset = 0;
  for (const t of tensors) {
    h.string(t.name);
    h.u32(t.shape.length);
    t.shape.forEach((d) => h.u64(d));
    h.u32(t.type);
    h.u64(offset);
    const bytes = tensorBytes(t.type, t.shape);
    offset += bytes + paddingTo(bytes, GGUF_ALIGNMENT);
  }
  h.zeros(paddingTo(h.size, GGUF_ALIGNMENT));
  return h.toBuffer();
}

/** An output file that hashes and counts what goes through it. */
class HashedFile {
  private readonly hash = crypto.createHash("sha256");
  bytes = 0;

  constructor(private readonly fd: number) {}

  write(data: Uint8Array): void {
    for (let done = 0; done < data.length; ) {
      done += fs.writeSync(this.fd, data, done, data.length - done);
    }
    this.hash.update(data);
    this.bytes += data.length;
  }

  pad(): void {
    this.write(new Uint8Array(paddingTo(this.bytes, GGUF_ALIGNMENT)));
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}

function writeTensorData(out: HashedFile, t: TensorToWrite): void {
  const expected = tensorBytes(t.type, t.shape);
  let written = 0;
  for (const chunk of t.chunks()) {
    out.write(chunk);
    written += chunk.length;
  }
  if (written !== expected) {
    throw new Error(`tensor ${t.name} (${typeName(t.type)} [${t.shape.join(", ")}]): got ${written} bytes, expected ${expected}`);
  }
  out.pad();
}

/**
 * Writes a GGUF v3 file at `path` (through a temporary file renamed at the end, so that `path`
 * is either absent or complete). `general.alignment` is added to the metadata.
 */
export function writeGguf(path: string, metadata: Metadata, tensors: readonly TensorToWrite[]): WrittenFile {
  const header = encodeHeader(metadata, tensors);
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = fs.openSync(temporary, "w");
  try {
    const out = new HashedFile(fd);
    try {
      out.write(header);
      tensors.forEach((t) => writeTensorData(out, t));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
    return { bytes: out.bytes, sha256: out.digest() };
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}
