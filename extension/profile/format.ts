/**
 * The .ggmlprof container: a saved recording, documented in docs/ggmlprof.md.
 *
 * The probe helper writes a raw stream (bpf/stream.h), one record after another. The container
 * holds the same recording decoded into its record tables, stored column by column: each column is
 * one section, its integers delta-encoded where they grow (times, stream offsets), narrowed to the
 * smallest width that holds them, compressed on their own and checksummed. Tensor names are stored
 * once each, in a dictionary per table. Reading one is mostly inflating the columns a reader touches:
 * tables are built lazily, so a column nobody looks at is never inflated.
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import {
  FILE_HEADER,
  LAYOUTS,
  RECORD_HEADER,
  TABLE_NAMES,
  TRAILER_LAYOUT,
  cString,
  decodeStream,
  jsonErrorText,
  MAX_JSON_BYTES,
  NAME_CAP,
  ProfileFormatError,
  RecordType,
  type DecodedStream,
  type FieldLayout,
  type RecordTables,
  type TableName,
} from "./stream";

export const CONTAINER_MAGIC = "GGMLPROF";
export const CONTAINER_VERSION_MAJOR = 1;
export const CONTAINER_VERSION_MINOR = 0;

/** magic[8], u16 major, u16 minor, u32 number of sections. */
export const CONTAINER_HEADER = { size: 16, major: 8, minor: 10, sections: 12 } as const;
/** Before each section's payload: u32 crc32, u8 codec, 3 reserved bytes, u32 stored length, u32 decoded length. */
export const SECTION_HEADER = { size: 16, crc: 0, codec: 4, stored: 8, decoded: 12 } as const;

/**
 * The most raw deflate expands: a 258-byte match coded in 2 bits. No section may say it decodes to
 * more than this many times its stored length (the writer stores a brotli section that would with
 * deflate instead), so that what a file inflates to is bounded by the file's own size.
 */
export const MAX_INFLATE_RATIO = 1032;

/**
 * Every row of a table was a record of the raw stream, at least its struct's size, at a u32 offset:
 * together they fit below offset 2^32 plus one last record (at most 64 KiB: its size is a u16).
 */
export const MAX_RECORD_BYTES = 2 ** 32 + 2 ** 16;

/** The metadata: the stream's JSON header and trailer (MAX_JSON_BYTES each, escaped once more) and the table descriptions. */
export const MAX_META_BYTES = 5 * MAX_JSON_BYTES;

export enum Codec {
  Stored = 0,
  Deflate = 1,
  Brotli = 2,
}

export interface CompressionOptions {
  codec: Codec;
  /** zlib level 1..9, or brotli quality 0..11. */
  level: number;
}

/**
 * Chosen by scripts/bench/format.ts (bench/format-results.md): deflate 1 loaded fastest or as fast as
 * the others in both runs; brotli would make files a quarter smaller.
 */
export const DEFAULT_COMPRESSION: CompressionOptions = { codec: Codec.Deflate, level: 1 };

/** How a column is stored and what typed array it becomes. */
export interface ColumnInfo {
  section: number;
  /** The array a reader gets: Uint32Array, Int32Array, Float64Array or BigUint64Array. */
  array: "u32" | "i32" | "f64" | "h64";
  /** Bytes per stored integer: 1, 2, 4 or 8. */
  width: 1 | 2 | 4 | 8;
  signed: boolean;
  /** Stored as differences from the previous value; the first from `base`, the first value itself. */
  delta: boolean;
  base?: number;
}

export interface TableInfo {
  count: number;
  columns: Record<string, ColumnInfo>;
  /** Char fields: a dictionary section (JSON array of strings) and the index of each row's string. */
  strings: Record<string, { dictionary: number; index: ColumnInfo }>;
}

/** What a container says about itself (section 0, JSON). */
export interface ContainerMeta {
  format: "ggmlprof";
  tool: { name: string; version: string };
  /** ISO 8601 time of writing. */
  created: string;
  /** The machine's measured ceilings when known (ggml-lens machine), else null. */
  machine: unknown;
  /** The raw stream's version and its JSON header and trailer, verbatim. */
  stream: { major: number; minor: number; header: string; trailer: string | null };
  /** What decoding the raw stream found (see DecodedStream). */
  decode: { truncated: boolean; errors: string[]; unknown: Record<string, number>; count: number };
  tables: Record<string, TableInfo>;
}

/** A stream read back from a container; tensor names come from its dictionaries, not from `bytes`. */
export interface ContainerStream extends DecodedStream {
  names: Partial<Record<TableName, (row: number) => string>>;
}

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

/** Whether `bytes` start like a container (anything else is taken for a raw stream). */
export function isContainer(bytes: Uint8Array): boolean {
  if (bytes.length < CONTAINER_MAGIC.length) return false;
  for (let i = 0; i < CONTAINER_MAGIC.length; i++) if (bytes[i] !== CONTAINER_MAGIC.charCodeAt(i)) return false;
  return true;
}

// ---- writing -----------------------------------------------------------------------------

export interface WriteOptions {
  tool: { name: string; version: string };
  /** The command line ggml-lens launched, added to the header's target when the helper did not record one. */
  argv?: string[];
  machine?: unknown;
  created?: Date;
  compression?: CompressionOptions;
}

type AnyColumn = Uint32Array | Int32Array | Float64Array | BigUint64Array;

class SectionWriter {
  readonly parts: Uint8Array[] = [];

  constructor(private readonly compression: CompressionOptions) {}

  /** Adds a section; returns its index (section 0 is the metadata, added last but placed first). */
  add(payload: Uint8Array, codec = this.compression.codec): number {
    this.parts.push(section(payload, codec, this.compression.level));
    return this.parts.length;
  }
}

function compress(payload: Uint8Array, codec: Codec, level: number): Uint8Array {
  if (codec === Codec.Deflate) return deflateRawSync(payload, { level });
  if (codec === Codec.Brotli) {
    return brotliCompressSync(payload, {
      params: { [zlibConstants.BROTLI_PARAM_QUALITY]: level, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: payload.length },
    });
  }
  return payload;
}

/** The payload compressed; a brotli result past MAX_INFLATE_RATIO is made with deflate instead, which never is. */
function compressWithinRatio(payload: Uint8Array, codec: Codec, level: number): { codec: Codec; stored: Uint8Array } {
  const stored = compress(payload, codec, level);
  if (payload.length <= stored.length * MAX_INFLATE_RATIO) return { codec, stored };
  return { codec: Codec.Deflate, stored: compress(payload, Codec.Deflate, Math.min(level, 9)) };
}

function section(payload: Uint8Array, requested: Codec, level: number): Uint8Array {
  if (payload.length > 0xffffffff) throw new Error(`a section of ${payload.length} bytes is over the 4 GiB limit`);
  const { codec, stored } = compressWithinRatio(payload, requested, level);
  const out = new Uint8Array(SECTION_HEADER.size + stored.length);
  const view = new DataView(out.buffer);
  out[SECTION_HEADER.codec] = codec;
  view.setUint32(SECTION_HEADER.stored, stored.length, true);
  view.setUint32(SECTION_HEADER.decoded, payload.length, true);
  out.set(stored, SECTION_HEADER.size);
  view.setUint32(SECTION_HEADER.crc, crc32(out.subarray(SECTION_HEADER.codec)), true);
  return out;
}

/** The smallest width and signedness that hold every value of an integer column. */
function narrowest(min: number, max: number): { width: 1 | 2 | 4 | 8; signed: boolean } {
  if (min >= 0) {
    if (max <= 0xff) return { width: 1, signed: false };
    if (max <= 0xffff) return { width: 2, signed: false };
    if (max <= 0xffffffff) return { width: 4, signed: false };
    return { width: 8, signed: true };
  }
  if (min >= -0x80 && max <= 0x7f) return { width: 1, signed: true };
  if (min >= -0x8000 && max <= 0x7fff) return { width: 2, signed: true };
  if (min >= -0x80000000 && max <= 0x7fffffff) return { width: 4, signed: true };
  return { width: 8, signed: true };
}

function deltas(values: ArrayLike<number>, base: number): Float64Array {
  const out = new Float64Array(values.length);
  let previous = base;
  for (let i = 0; i < values.length; i++) {
    out[i] = values[i] - previous;
    previous = values[i];
  }
  return out;
}

/** Integers (exact in a double) as `width`-byte little-endian two's complement. */
function packIntegers(values: ArrayLike<number>, width: 1 | 2 | 4 | 8, signed: boolean): Uint8Array {
  const n = values.length;
  if (width === 8) {
    const words = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const high = Math.floor(values[i] / 4294967296);
      words[2 * i] = values[i] - high * 4294967296;
      words[2 * i + 1] = high;
    }
    return new Uint8Array(words.buffer);
  }
  const Packed = signed ? { 1: Int8Array, 2: Int16Array, 4: Int32Array }[width] : { 1: Uint8Array, 2: Uint16Array, 4: Uint32Array }[width];
  const packed = Packed.from(values);
  return new Uint8Array(packed.buffer, 0, packed.byteLength);
}

function arrayKind(values: AnyColumn): ColumnInfo["array"] {
  if (values instanceof Uint32Array) return "u32";
  if (values instanceof Int32Array) return "i32";
  if (values instanceof BigUint64Array) return "h64";
  return "f64";
}

function writeColumn(sections: SectionWriter, values: AnyColumn, delta: boolean): ColumnInfo {
  const array = arrayKind(values);
  if (values instanceof BigUint64Array) {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    return { section: sections.add(bytes), array, width: 8, signed: false, delta: false };
  }
  const base = delta && values.length > 0 ? values[0] : undefined;
  const stored = base !== undefined ? deltas(values, base) : values;
  let min = 0;
  let max = 0;
  for (let i = 0; i < stored.length; i++) {
    if (stored[i] < min) min = stored[i];
    if (stored[i] > max) max = stored[i];
  }
  const { width, signed } = narrowest(min, max);
  return { section: sections.add(packIntegers(stored, width, signed)), array, width, signed, delta, base };
}

/** Columns whose values grow along the stream: stored as differences. */
const DELTA_COLUMNS = new Set(["ts", "offset"]);

function charFields(table: TableName): [string, FieldLayout][] {
  return Object.entries(LAYOUTS[table].fields as Record<string, FieldLayout>).filter(([, f]) => f.kind === "char");
}

function numericColumns(table: TableName): string[] {
  const fields = Object.entries(LAYOUTS[table].fields as Record<string, FieldLayout>).filter(([, f]) => f.kind !== "char");
  return ["offset", "ts", "tid", ...fields.map(([key]) => key)];
}

/** A char field of every row as an index into a dictionary of its distinct strings. */
function writeStrings(sections: SectionWriter, stream: DecodedStream, table: TableName, f: FieldLayout): TableInfo["strings"][string] {
  const offsets = stream.tables[table].offset;
  const dictionary: string[] = [];
  const byText = new Map<string, number>();
  const index = new Uint32Array(offsets.length);
  for (let row = 0; row < offsets.length; row++) {
    const text = cString(stream.bytes, offsets[row] + f.at, f.n);
    let id = byText.get(text);
    if (id === undefined) {
      id = dictionary.push(text) - 1;
      byText.set(text, id);
    }
    index[row] = id;
  }
  return { dictionary: sections.add(utf8Encoder.encode(JSON.stringify(dictionary))), index: writeColumn(sections, index, false) };
}

function writeTable(sections: SectionWriter, stream: DecodedStream, table: TableName): TableInfo {
  const t = stream.tables[table] as unknown as Record<string, AnyColumn> & { count: number };
  const info: TableInfo = { count: t.count, columns: {}, strings: {} };
  if (t.count === 0) return info;
  for (const key of numericColumns(table)) info.columns[key] = writeColumn(sections, t[key], DELTA_COLUMNS.has(key));
  for (const [key, f] of charFields(table)) info.strings[key] = writeStrings(sections, stream, table, f);
  return info;
}

/** The JSON text of the stream's header (with the command line, when given and the helper had none) and trailer. */
function streamJson(stream: DecodedStream, argv: string[] | undefined): ContainerMeta["stream"] {
  const header = stream.header.info.raw;
  const target = (header.target ?? {}) as Record<string, unknown>;
  const withArgv = argv && !Array.isArray(target.argv) ? { ...header, target: { ...target, argv } } : header;
  return {
    major: stream.header.major,
    minor: stream.header.minor,
    header: JSON.stringify(withArgv),
    trailer: stream.trailer ? JSON.stringify(stream.trailer.raw) : null,
  };
}

/** Writes a decoded stream as a container. */
export function encodeContainer(stream: DecodedStream, options: WriteOptions): Uint8Array {
  const compression = options.compression ?? DEFAULT_COMPRESSION;
  const sections = new SectionWriter(compression);
  const tables: Record<string, TableInfo> = {};
  for (const table of TABLE_NAMES) tables[table] = writeTable(sections, stream, table);
  const meta: ContainerMeta = {
    format: "ggmlprof",
    tool: options.tool,
    created: (options.created ?? new Date()).toISOString(),
    machine: options.machine ?? null,
    stream: streamJson(stream, options.argv),
    decode: {
      truncated: stream.truncated,
      errors: stream.errors,
      unknown: Object.fromEntries([...stream.unknown].map(([type, n]) => [String(type), n])),
      count: stream.count,
    },
    tables,
  };
  const metaSection = section(utf8Encoder.encode(JSON.stringify(meta)), Codec.Deflate, 6);
  const head = new Uint8Array(CONTAINER_HEADER.size);
  head.set(utf8Encoder.encode(CONTAINER_MAGIC), 0);
  const view = new DataView(head.buffer);
  view.setUint16(CONTAINER_HEADER.major, CONTAINER_VERSION_MAJOR, true);
  view.setUint16(CONTAINER_HEADER.minor, CONTAINER_VERSION_MINOR, true);
  view.setUint32(CONTAINER_HEADER.sections, 1 + sections.parts.length, true);
  return concatAll([head, metaSection, ...sections.parts]);
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- reading -----------------------------------------------------------------------------

interface SectionRef {
  at: number;
  codec: number;
  stored: number;
  decoded: number;
}

/** Section headers, checked against the file's length (a cut file is named so). */
function sectionRefs(bytes: Uint8Array): SectionRef[] {
  if (bytes.length < CONTAINER_HEADER.size) {
    throw new ProfileFormatError(`the file is cut short: its ${bytes.length} bytes do not hold the ${CONTAINER_HEADER.size}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = view.getUint16(CONTAINER_HEADER.major, true);
  const minor = view.getUint16(CONTAINER_HEADER.minor, true);
  if (major > CONTAINER_VERSION_MAJOR) {
    throw new ProfileFormatError(
      `written by a newer ggml-lens: file format ${major}.${minor}, this version reads ${CONTAINER_VERSION_MAJOR}.x; update ggml-lens`,
    );
  }
  const count = view.getUint32(CONTAINER_HEADER.sections, true);
  const refs: SectionRef[] = [];
  let at = CONTAINER_HEADER.size;
  for (let i = 0; i < count; i++) {
    if (at + SECTION_HEADER.size > bytes.length) throw cutShort(i, count, at + SECTION_HEADER.size, bytes.length);
    const stored = view.getUint32(at + SECTION_HEADER.stored, true);
    if (at + SECTION_HEADER.size + stored > bytes.length) throw cutShort(i, count, at + SECTION_HEADER.size + stored, bytes.length);
    refs.push({ at, codec: bytes[at + SECTION_HEADER.codec], stored, decoded: view.getUint32(at + SECTION_HEADER.decoded, true) });
    at += SECTION_HEADER.size + stored;
  }
  if (at !== bytes.length) throw new ProfileFormatError(`corrupt: ${bytes.length - at} bytes after the last of its ${count} sections`);
  return refs;
}

function cutShort(index: number, count: number, need: number, have: number): ProfileFormatError {
  return new ProfileFormatError(
    `the file is cut short: section ${index} of ${count} needs ${need} bytes, the file has ${have}; copy or save it again`,
  );
}

function verify(bytes: Uint8Array, ref: SectionRef, index: number, name: string): void {
  const expected = new DataView(bytes.buffer, bytes.byteOffset + ref.at).getUint32(SECTION_HEADER.crc, true);
  const actual = crc32(bytes.subarray(ref.at + SECTION_HEADER.codec, ref.at + SECTION_HEADER.size + ref.stored));
  if (actual !== expected) throw new ProfileFormatError(`corrupt: section ${index} (${name}) fails its checksum; the file was damaged after it was written`);
}

function inflate(bytes: Uint8Array, ref: SectionRef, index: number, name: string): Uint8Array {
  const stored = bytes.subarray(ref.at + SECTION_HEADER.size, ref.at + SECTION_HEADER.size + ref.stored);
  let out: Uint8Array;
  try {
    if (ref.codec === Codec.Stored) out = stored;
    // A damaged payload may inflate to far more than its header says: it is stopped there.
    else if (ref.codec === Codec.Deflate) out = inflateRawSync(stored, { maxOutputLength: Math.max(1, ref.decoded) });
    else out = brotliDecompressSync(stored, { maxOutputLength: Math.max(1, ref.decoded) });
  } catch (err) {
    throw new ProfileFormatError(`corrupt: section ${index} (${name}) does not decompress: ${(err as Error).message}`);
  }
  if (out.length !== ref.decoded) {
    throw new ProfileFormatError(`corrupt: section ${index} (${name}) holds ${out.length} bytes, its header says ${ref.decoded}`);
  }
  return out;
}

function parseMeta(text: Uint8Array): ContainerMeta {
  let meta: unknown;
  try {
    meta = JSON.parse(utf8.decode(text));
  } catch (err) {
    throw new ProfileFormatError(`corrupt: the metadata is not valid JSON: ${jsonErrorText(err)}`);
  }
  const m = meta as Partial<ContainerMeta> | null;
  if (!m || m.format !== "ggmlprof" || typeof m.stream?.header !== "string" || typeof m.tables !== "object" || !m.tables || !m.decode) {
    throw new ProfileFormatError("corrupt: the metadata lacks the format, stream or tables fields");
  }
  checkDecode(m.decode);
  for (const [table, info] of Object.entries(m.tables ?? {})) checkTable(table, info);
  return m as ContainerMeta;
}

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** The decode summary is copied into the stream as is: its types are checked first. */
function checkDecode(decode: ContainerMeta["decode"]): void {
  const errors = decode.errors ?? [];
  if (!Array.isArray(errors) || !errors.every((e) => typeof e === "string") || !isCount(decode.count) || typeof decode.truncated !== "boolean") {
    throw new ProfileFormatError("corrupt: the metadata's decode summary is not valid");
  }
  for (const n of Object.values(decode.unknown ?? {})) {
    if (!isCount(n)) throw new ProfileFormatError("corrupt: the metadata's count of unknown records is not valid");
  }
}

const COLUMN_ARRAYS = new Set(["u32", "i32", "f64", "h64"]);
const COLUMN_WIDTHS = new Set([1, 2, 4, 8]);

/** Counts, section numbers and column encodings are checked before any array is sized by them. */
function checkTable(table: string, info: unknown): void {
  const t = info as Partial<TableInfo> | null;
  if (!t || typeof t !== "object" || !isCount(t.count)) throw new ProfileFormatError(`corrupt: the metadata's table ${table} has no valid count`);
  for (const [key, column] of Object.entries(t.columns ?? {})) checkColumn(`${table}.${key}`, column);
  for (const [key, strings] of Object.entries(t.strings ?? {})) {
    if (!isCount(strings?.dictionary)) throw new ProfileFormatError(`corrupt: the metadata's ${table}.${key} dictionary has no valid section`);
    checkColumn(`${table}.${key}`, strings.index);
  }
}

function checkColumn(name: string, column: ColumnInfo | undefined): void {
  const c = column as Partial<ColumnInfo> | undefined;
  const valid =
    !!c && isCount(c.section) && COLUMN_ARRAYS.has(c.array as string) && COLUMN_WIDTHS.has(c.width as number) && (c.base === undefined || Number.isFinite(c.base));
  if (!valid) throw new ProfileFormatError(`corrupt: the metadata's description of column ${name} is not valid`);
}

/** The section names of a container, for messages: "opBegin.ts", "graphNode.name dictionary". */
function sectionNames(meta: ContainerMeta): Map<number, string> {
  const names = new Map<number, string>([[0, "metadata"]]);
  for (const [table, info] of Object.entries(meta.tables)) {
    for (const [key, column] of Object.entries(info.columns ?? {})) names.set(column.section, `${table}.${key}`);
    for (const [key, strings] of Object.entries(info.strings ?? {})) {
      names.set(strings.dictionary, `${table}.${key} dictionary`);
      names.set(strings.index.section, `${table}.${key}`);
    }
  }
  return names;
}

/** Decodes a column's stored integers into the typed array its table expects. */
function unpackColumn(raw: Uint8Array, info: ColumnInfo, length: number, name: string): AnyColumn {
  if (raw.length !== length * info.width) {
    throw new ProfileFormatError(`corrupt: column ${name} holds ${raw.length / info.width} values for ${length} rows`);
  }
  // A copy (a Buffer's slice() would share the memory, at the same misaligned offset).
  const aligned = raw.byteOffset % info.width === 0 ? raw : new Uint8Array(raw);
  if (info.array === "h64") return new BigUint64Array(aligned.buffer, aligned.byteOffset, length);
  const out = info.array === "u32" ? new Uint32Array(length) : info.array === "i32" ? new Int32Array(length) : new Float64Array(length);
  if (info.width === 8) fromWords(new Uint32Array(aligned.buffer, aligned.byteOffset, 2 * length), out);
  else out.set(storedArray(aligned, info, length));
  if (info.delta) prefixSum(out, info.base ?? 0);
  return out;
}

function storedArray(raw: Uint8Array, info: ColumnInfo, length: number): Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array {
  const at = raw.byteOffset;
  if (info.width === 1) return info.signed ? new Int8Array(raw.buffer, at, length) : raw;
  if (info.width === 2) return info.signed ? new Int16Array(raw.buffer, at, length) : new Uint16Array(raw.buffer, at, length);
  return info.signed ? new Int32Array(raw.buffer, at, length) : new Uint32Array(raw.buffer, at, length);
}

function fromWords(words: Uint32Array, out: Uint32Array | Int32Array | Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = words[2 * i] + (words[2 * i + 1] | 0) * 4294967296;
}

function prefixSum(values: Uint32Array | Int32Array | Float64Array, base: number): void {
  if (values.length > 0) values[0] += base;
  for (let i = 1; i < values.length; i++) values[i] += values[i - 1];
}

/**
 * Every column's section says it holds its table's rows (and a table with rows has an offset
 * column), so that no array is sized by a count that the file's sections do not back.
 */
function checkColumnSizes(meta: ContainerMeta, refs: SectionRef[]): void {
  for (const [table, info] of Object.entries(meta.tables)) {
    if (info.count > 0 && !info.columns?.offset) throw new ProfileFormatError(`corrupt: table ${table} has ${info.count} rows and no offset column`);
    const fields = (LAYOUTS as Record<string, { fields: Record<string, FieldLayout> }>)[table]?.fields ?? {};
    const columns: [string, ColumnInfo, number][] = Object.entries(info.columns ?? {}).map(([key, c]) => [key, c, fields[key]?.n ?? 1]);
    for (const [key, strings] of Object.entries(info.strings ?? {})) columns.push([key, strings.index, 1]);
    for (const [key, column, perRow] of columns) {
      const decoded = refs[column.section].decoded;
      if (decoded !== info.count * perRow * column.width) {
        throw new ProfileFormatError(`corrupt: column ${table}.${key} holds ${decoded / column.width} values for ${info.count * perRow} rows`);
      }
    }
  }
}

/**
 * The rows of all tables, at their record's size, fit in a raw stream (MAX_RECORD_BYTES): no table
 * is sized by a count that no recording could have (a table a newer version adds counts 16 bytes a row).
 */
function checkRowCounts(meta: ContainerMeta): void {
  let rows = 0;
  let bytes = 0;
  for (const [table, info] of Object.entries(meta.tables)) {
    rows += info.count;
    bytes += info.count * ((LAYOUTS as Record<string, { size: number }>)[table]?.size ?? RECORD_HEADER.size);
  }
  if (bytes > MAX_RECORD_BYTES) {
    throw new ProfileFormatError(`corrupt: its tables say they hold ${rows} rows, ${bytes} bytes of records, more than the ${MAX_RECORD_BYTES} a recording can hold`);
  }
}

/** The most a dictionary of `rows` names takes: one JSON string per row, each byte of a name escaped to at most 6. */
function dictionaryLimit(rows: number): number {
  return 2 + rows * (6 * NAME_CAP + 3);
}

function checkDictionarySizes(meta: ContainerMeta, refs: SectionRef[]): void {
  for (const [table, info] of Object.entries(meta.tables)) {
    for (const [key, strings] of Object.entries(info.strings ?? {})) {
      const decoded = refs[strings.dictionary].decoded;
      if (decoded > dictionaryLimit(info.count)) {
        throw new ProfileFormatError(`corrupt: the ${table}.${key} dictionary is ${decoded} bytes, more than ${info.count} names take`);
      }
    }
  }
}

/** A section's codec is known, and its decoded length is one its stored bytes can give (checked before inflating). */
function checkSection(ref: SectionRef, index: number, name: string): void {
  if (!(ref.codec in Codec)) throw new ProfileFormatError(`section ${index} (${name}) uses compression ${ref.codec}, unknown to this version; update ggml-lens`);
  if (ref.codec === Codec.Stored && ref.decoded !== ref.stored) {
    throw new ProfileFormatError(`corrupt: section ${index} (${name}) stores ${ref.stored} bytes as they are, its header says ${ref.decoded}`);
  }
  if (ref.decoded > ref.stored * MAX_INFLATE_RATIO) {
    throw new ProfileFormatError(
      `corrupt: section ${index} (${name}) says it decodes to ${ref.decoded} bytes from ${ref.stored}, more than ${MAX_INFLATE_RATIO} times that (the most deflate reaches)`,
    );
  }
}

class ContainerReader {
  readonly refs: SectionRef[];
  readonly meta: ContainerMeta;
  private readonly names: Map<number, string>;

  constructor(private readonly bytes: Uint8Array) {
    this.refs = sectionRefs(bytes);
    if (this.refs.length === 0) throw new ProfileFormatError("corrupt: the file has no metadata section");
    this.meta = parseMeta(this.metadata());
    this.names = sectionNames(this.meta);
    for (const [index, name] of this.names) {
      if (index >= this.refs.length) throw new ProfileFormatError(`corrupt: ${name} is in section ${index}, the file has ${this.refs.length}`);
      if (index > 0) verify(bytes, this.refs[index], index, name);
      checkSection(this.refs[index], index, name);
    }
    checkColumnSizes(this.meta, this.refs);
    checkRowCounts(this.meta);
    checkDictionarySizes(this.meta, this.refs);
  }

  private metadata(): Uint8Array {
    const ref = this.refs[0];
    verify(this.bytes, ref, 0, "metadata");
    checkSection(ref, 0, "metadata");
    if (ref.decoded > MAX_META_BYTES) throw new ProfileFormatError(`corrupt: the metadata says it is ${ref.decoded} bytes, more than the ${MAX_META_BYTES} it may be`);
    return inflate(this.bytes, ref, 0, "metadata");
  }

  section(index: number): Uint8Array {
    return inflate(this.bytes, this.refs[index], index, this.names.get(index) ?? `section ${index}`);
  }

  column(table: string, key: string, info: ColumnInfo, length: number): AnyColumn {
    return unpackColumn(this.section(info.section), info, length, `${table}.${key}`);
  }

  dictionary(table: string, key: string, section: number): string[] {
    let list: unknown;
    try {
      list = JSON.parse(utf8.decode(this.section(section)));
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list)) throw new ProfileFormatError(`corrupt: the ${table}.${key} dictionary is not a JSON array`);
    return list.map(String);
  }
}

/** The typed array each column of a table becomes, for columns a container lacks (zeros). */
function emptyColumn(table: TableName, key: string, length: number): AnyColumn {
  if (key === "offset" || key === "tid") return new Uint32Array(length);
  if (key === "ts") return new Float64Array(length);
  const f = (LAYOUTS[table].fields as Record<string, FieldLayout>)[key];
  const n = length * f.n;
  if (f.kind === "u32") return new Uint32Array(n);
  if (f.kind === "i32") return new Int32Array(n);
  if (f.kind === "h64") return new BigUint64Array(n);
  return new Float64Array(n);
}

/**
 * One table whose columns are inflated on first access and then kept as own properties, like the
 * raw stream's tables. A column the container lacks (written before the field existed) reads as
 * zeros; the profile's errors say so.
 */
function lazyTable(reader: ContainerReader, table: TableName, errors: string[]): object {
  const info = reader.meta.tables[table] ?? { count: 0, columns: {}, strings: {} };
  const t: Record<string, unknown> = { count: info.count };
  for (const key of numericColumns(table)) {
    const column = info.columns?.[key];
    const width = key in LAYOUTS[table].fields ? (LAYOUTS[table].fields as Record<string, FieldLayout>)[key].n : 1;
    if (!column && info.count > 0) errors.push(`${table}.${key} is not in this file (written by an older ggml-lens): read as 0`);
    Object.defineProperty(t, key, {
      configurable: true,
      enumerable: true,
      get() {
        const value = column ? reader.column(table, key, column, info.count * width) : emptyColumn(table, key, info.count);
        Object.defineProperty(t, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return t;
}

function lazyNames(reader: ContainerReader, table: TableName): ((row: number) => string) | undefined {
  const info = reader.meta.tables[table];
  const [key] = charFields(table).map(([k]) => k);
  const strings = key === undefined ? undefined : info?.strings?.[key];
  if (!strings) return undefined;
  let dictionary: string[] | undefined;
  let index: AnyColumn | undefined;
  return (row) => {
    dictionary ??= reader.dictionary(table, key, strings.dictionary);
    index ??= reader.column(table, key, strings.index, info.count);
    return dictionary[Number(index[row])] ?? "";
  };
}

/**
 * The stream's header and trailer, parsed by the stream decoder itself: a stream of the header and
 * the trailer only, without records.
 */
function headerAndTrailer(meta: ContainerMeta): Pick<DecodedStream, "header" | "trailer"> {
  const header = utf8Encoder.encode(meta.stream.header);
  const headerLength = Math.ceil((FILE_HEADER.size + header.length) / 8) * 8;
  const trailer = meta.stream.trailer === null ? new Uint8Array(0) : utf8Encoder.encode(meta.stream.trailer);
  const trailerLength = meta.stream.trailer === null ? 0 : TRAILER_LAYOUT.size + Math.ceil(trailer.length / 8) * 8;
  const bytes = new Uint8Array(headerLength + trailerLength);
  const view = new DataView(bytes.buffer);
  bytes.set(utf8Encoder.encode("GGMLLENS"), 0);
  view.setUint16(FILE_HEADER.major, meta.stream.major, true);
  view.setUint16(FILE_HEADER.minor, meta.stream.minor, true);
  view.setUint32(FILE_HEADER.jsonLen, header.length, true);
  bytes.set(header, FILE_HEADER.size);
  if (meta.stream.trailer !== null) {
    view.setUint16(headerLength + RECORD_HEADER.type, RecordType.Trailer, true);
    view.setUint16(headerLength + RECORD_HEADER.recordSize, TRAILER_LAYOUT.size, true);
    view.setUint32(headerLength + TRAILER_LAYOUT.fields.jsonLen.at, trailer.length, true);
    bytes.set(trailer, headerLength + TRAILER_LAYOUT.size);
  }
  const decoded = decodeStream(bytes);
  return { header: decoded.header, trailer: decoded.trailer };
}

/**
 * Reads a container. Throws ProfileFormatError when it is from a newer major version, cut short, or
 * damaged (every section's checksum is checked here, before any view sees a value).
 */
export function decodeContainer(bytes: Uint8Array): { stream: ContainerStream; meta: ContainerMeta } {
  const reader = new ContainerReader(bytes);
  const { meta } = reader;
  const errors = [...(meta.decode.errors ?? [])];
  const tables = {} as Record<TableName, object>;
  const names: ContainerStream["names"] = {};
  for (const table of TABLE_NAMES) {
    tables[table] = lazyTable(reader, table, errors);
    const lookup = lazyNames(reader, table);
    if (lookup) names[table] = lookup;
  }
  const stream: ContainerStream = {
    ...headerAndTrailer(meta),
    bytes: new Uint8Array(0),
    tables: tables as RecordTables,
    unknown: new Map(Object.entries(meta.decode.unknown ?? {}).map(([type, n]) => [Number(type), n])),
    count: meta.decode.count,
    truncated: meta.decode.truncated,
    errors,
    names,
  };
  return { stream, meta };
}
