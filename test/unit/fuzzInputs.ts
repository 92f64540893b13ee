/**
 * Inputs of the profile-reader fuzzer (fuzz.test.ts): a seeded PRNG, seeds (real-layout raw streams
 * and the .ggmlprof containers made from them) and the mutations applied to them. Each mutation
 * says what a correct reader must make of its result (Expect), so that a case checks more than
 * "did not crash".
 */
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { Codec, CONTAINER_HEADER, encodeContainer, SECTION_HEADER } from "../../extension/profile/format";
import { decodeStream, FILE_HEADER, MAX_JSON_BYTES, RECORD_HEADER, RecordType, STREAM_VERSION_MAJOR, TABLE_NAMES } from "../../extension/profile/stream";
import { DEFAULT_HEADER, DEFAULT_TRAILER, manyOps, OP, StreamBuilder } from "./streamBuilder";

// ---- PRNG --------------------------------------------------------------------------------

/** sfc32, seeded from (seed, case index): any case can be replayed alone. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, index: number) {
    this.a = seed >>> 0;
    this.b = index >>> 0;
    this.c = Math.floor(index / 4294967296) ^ 0x9e3779b9;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)];
  }
}

// ---- seeds -------------------------------------------------------------------------------

/** A record's place in a raw stream: [at, end) (the trailer's end includes its JSON). */
export interface RecordSpan {
  at: number;
  end: number;
  type: number;
}

export interface StreamSeed {
  kind: "stream";
  name: string;
  bytes: Uint8Array;
  jsonEnd: number;
  recordsStart: number;
  records: RecordSpan[];
  /** Index in `records` of the trailer (the last record). */
  trailer: number;
  /** Record count per table, and all records, as the decoder reads the intact seed. */
  tableCounts: number[];
  count: number;
}

export interface SectionSpan {
  at: number;
  codec: number;
  stored: number;
  decoded: number;
}

export interface ContainerSeed {
  kind: "container";
  name: string;
  bytes: Uint8Array;
  sections: SectionSpan[];
  meta: Record<string, unknown>;
  tableCounts: number[];
}

export type Seed = StreamSeed | ContainerSeed;

const SIG_A = 0x8000_0000_dead_beefn;
const SIG_B = 0x0123_4567_89ab_cdefn;

/** Every record type, two graphs, fused and windowed ops, experts, samples, thread states. */
function everyRecordStream(): StreamBuilder {
  const b = new StreamBuilder(DEFAULT_HEADER, 1, 2).window({ tid: 0, ts: 10, on: true }).decodeBegin({ tid: 7, ts: 100, nTokens: 5 });
  b.graphBegin({ tid: 7, ts: 110, signature: SIG_A, nNodes: 3 })
    .graphNode({ tid: 7, ts: 111, signature: SIG_A, tensor: 0x1000, index: 0, op: OP.RMS_NORM, ne: [64, 5, 1, 1], nb: [4, 256, 1280, 1280], name: "norm-0" })
    .graphNode({ tid: 7, ts: 112, signature: SIG_A, tensor: 0x2000, index: 1, op: OP.MUL, src: [0x1000, 0x9000], ne: [64, 5, 1, 1], name: "attn_norm-0" })
    .graphNode({ tid: 7, ts: 113, signature: SIG_A, tensor: 0x3000, index: 2, op: OP.MUL_MAT, src: [0x9000, 0x2000], type: 0, ne: [128, 5, 1, 1], name: "ffn_up-0" })
    .graphLeaf({ tid: 7, ts: 114, signature: SIG_A, tensor: 0x9000, ne: [64, 128, 1, 1], type: 2, consumer: 2, name: "blk.0.ffn_up.weight" });
  for (let ith = 0; ith < 2; ith++) {
    const tid = 7 + ith;
    b.opBegin({ tid, ts: 120 + ith, tensor: 0x1000, tensor2: 0x2000, op: OP.RMS_NORM, flags: 1, ith, name: "norm-0" })
      .opEnd({ tid, ts: 130 + ith, tensor: 0x1000, minFlt: 1, cpuNs: 9 })
      .opBegin({ tid, ts: 140 + ith, tensor: 0x3000, op: OP.MUL_MAT, ith, ne: [128, 5, 1, 1], name: "ffn_up-0" })
      .sample({ tid, ts: 145, ip: 0x7fff_0000_1000, tensor: 0x3000 })
      .sched({ tid, ts: 146, kind: 1 })
      .sched({ tid, ts: 147, kind: 3 })
      .opEnd({ tid, ts: 150 + ith, tensor: 0x3000, nvcsw: 1, cpuNs: 20 });
  }
  b.expertIds({ tid: 7, ts: 151, tensor: 0x3000, nUsed: 2, nTokens: 3, ids: [5, 1, 7, 0, 3, 2] })
    .graphEnd({ tid: 7, ts: 160 })
    .decodeEnd({ tid: 7, ts: 170 })
    .window({ tid: 0, ts: 171, on: false })
    .decodeBegin({ tid: 7, ts: 2_000_000, nTokens: 1 })
    .graphBegin({ tid: 7, ts: 2_000_010, signature: SIG_B, nNodes: 1 })
    .graphNode({ tid: 7, ts: 2_000_011, signature: SIG_B, tensor: 0x4000, index: 0, op: OP.SOFT_MAX, name: "kq_soft_max-0" })
    .opBegin({ tid: 7, ts: 2_000_020, tensor: 0x4000, op: OP.SOFT_MAX, name: "kq_soft_max-0" })
    .graphEnd({ tid: 7, ts: 2_000_040 })
    .decodeEnd({ tid: 7, ts: 2_000_050 })
    .record(200, 32, { tid: 7, ts: 2_000_060 });
  return b.trailer({ ...DEFAULT_TRAILER, symbols: [{ ip: 0x7fff_0000_1000, function: "ggml_vec_dot_f32", file: "vec.c", line: 12, inline_callers: [] }] });
}

/** Seeds built with the test encoder: every record type, plain op pairs, an unpadded header. */
export function builtStreams(): { name: string; bytes: Uint8Array }[] {
  return [
    { name: "every-record", bytes: everyRecordStream().bytes() },
    { name: "op-pairs", bytes: manyOps(24).trailer().bytes() },
    { name: "unpadded-header", bytes: manyOps(3, new StreamBuilder(DEFAULT_HEADER, 1, 1, false)).trailer().bytes() },
  ];
}

/**
 * A real recording made small: its header, its first `keep` records, its trailer (every real
 * record layout and header field, at a size that keeps a case fast).
 */
export function shortenedRecording(bytes: Uint8Array, keep: number): Uint8Array {
  const seed = streamSeed("recording", bytes);
  const last = seed.records[Math.min(keep, seed.trailer) - 1];
  const trailer = seed.records[seed.trailer];
  const upTo = last ? last.end : seed.recordsStart;
  const out = new Uint8Array(upTo + trailer.end - trailer.at);
  out.set(bytes.subarray(0, upTo));
  out.set(bytes.subarray(trailer.at, trailer.end), upTo);
  return out;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Where the header, each record and the trailer of an intact stream are. */
export function streamSeed(name: string, bytes: Uint8Array): StreamSeed {
  const v = view(bytes);
  const jsonEnd = FILE_HEADER.size + v.getUint32(FILE_HEADER.jsonLen, true);
  let recordsStart = jsonEnd;
  while (recordsStart < align8(jsonEnd) && bytes[recordsStart] === 0) recordsStart++;
  if (recordsStart !== align8(jsonEnd)) recordsStart = jsonEnd;
  const records: RecordSpan[] = [];
  let trailer = -1;
  for (let at = recordsStart; at < bytes.length && trailer < 0; ) {
    const type = v.getUint16(at + RECORD_HEADER.type, true);
    let end = at + v.getUint16(at + RECORD_HEADER.recordSize, true);
    if (type === RecordType.Trailer) {
      end = Math.min(bytes.length, align8(end + v.getUint32(at + 16, true)));
      trailer = records.length;
    }
    records.push({ at, end, type });
    at = end;
  }
  if (trailer < 0) throw new Error(`seed ${name} has no trailer`);
  const decoded = decodeStream(bytes);
  if (decoded.errors.length > 0 || decoded.truncated) throw new Error(`seed ${name} does not decode cleanly: ${decoded.errors.join("; ")}`);
  const tableCounts = TABLE_NAMES.map((t) => decoded.tables[t].count);
  return { kind: "stream", name, bytes, jsonEnd, recordsStart, records, trailer, tableCounts, count: decoded.count };
}

export const CONTAINER_OPTIONS = { tool: { name: "ggml-lens", version: "0.0.0-fuzz" }, created: new Date("2026-01-01T00:00:00Z") };

export function containerSeed(name: string, stream: StreamSeed, codec: Codec): ContainerSeed {
  const bytes = encodeContainer(decodeStream(stream.bytes), { ...CONTAINER_OPTIONS, compression: { codec, level: 1 } });
  const sections = sectionSpans(bytes);
  const metaSection = sections[0];
  const metaBytes = inflateRawSync(bytes.subarray(metaSection.at + SECTION_HEADER.size, metaSection.at + SECTION_HEADER.size + metaSection.stored));
  const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as Record<string, unknown>;
  return { kind: "container", name, bytes, sections, meta, tableCounts: stream.tableCounts };
}

export function sectionSpans(bytes: Uint8Array): SectionSpan[] {
  const v = view(bytes);
  const sections: SectionSpan[] = [];
  for (let at = CONTAINER_HEADER.size; at < bytes.length; ) {
    const stored = v.getUint32(at + SECTION_HEADER.stored, true);
    sections.push({ at, codec: bytes[at + SECTION_HEADER.codec], stored, decoded: v.getUint32(at + SECTION_HEADER.decoded, true) });
    at += SECTION_HEADER.size + stored;
  }
  return sections;
}

// ---- mutations ---------------------------------------------------------------------------

/**
 * What a correct reader makes of a mutant: "error" a ProfileFormatError (matching `match`);
 * "truncated" a result marked truncated; "result" any result, no exception;
 * "same" a result with the seed's record counts, errors and truncation; "count" a result with
 * `count` records; "any" a result or a ProfileFormatError.
 */
export type Expect =
  | { kind: "error"; match?: RegExp }
  | { kind: "truncated" }
  | { kind: "result"; errors?: RegExp }
  | { kind: "same" }
  | { kind: "count"; count: number }
  | { kind: "any" };

export interface Mutant {
  bytes: Uint8Array;
  /** What was done, for the failure report. */
  what: string;
  expect: Expect;
}

type Mutator<S extends Seed> = (seed: S, rng: Prng) => Mutant;

/** Values that sit on the edges of every width and sign. */
const EDGE_U32 = [0, 1, 2, 7, 8, 63, 64, 65, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const EDGE_U64 = [0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function setU16(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = copy(bytes);
  view(out).setUint16(at, value, true);
  return out;
}

function setU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = copy(bytes);
  view(out).setUint32(at, value >>> 0, true);
  return out;
}

/** `flips` distinct bytes of [from, to) changed (a bit flipped, or any other value). */
function flipBytes(bytes: Uint8Array, rng: Prng, from: number, to: number, flips: number): { out: Uint8Array; where: number[] } {
  const out = copy(bytes);
  const where = new Set<number>();
  for (let i = 0; i < flips && to > from; i++) where.add(rng.between(from, to - 1));
  for (const at of where) out[at] ^= rng.chance(0.5) ? 1 << rng.below(8) : rng.between(1, 255);
  return { out, where: [...where] };
}

/** One of the places a stream can be cut, and whether the cut leaves a readable header. */
function streamCut(seed: StreamSeed, rng: Prng): { at: number; where: string } {
  const records = seed.records.slice(0, seed.trailer);
  const r = records.length > 0 ? rng.pick(records) : undefined;
  const t = seed.records[seed.trailer];
  const choices: [string, () => number][] = [
    ["in the magic", () => rng.between(0, 7)],
    ["in the version", () => rng.between(8, 11)],
    ["in the JSON length", () => rng.between(12, 15)],
    ["in the JSON header", () => rng.between(16, seed.jsonEnd - 1)],
    ["at the header's end", () => seed.jsonEnd],
    ["at a record start", () => r?.at ?? seed.recordsStart],
    ["in a record header", () => (r ? r.at + rng.between(1, RECORD_HEADER.size - 1) : seed.recordsStart)],
    ["in a record body", () => (r ? rng.between(r.at + RECORD_HEADER.size, r.end - 1) : seed.recordsStart)],
    ["at the trailer", () => t.at],
    ["in the trailer struct", () => rng.between(t.at + 1, t.at + 23)],
    ["in the trailer JSON", () => rng.between(t.at + 24, t.end - 1)],
    ["anywhere", () => rng.below(seed.bytes.length)],
  ];
  const [where, at] = rng.pick(choices);
  return { at: at(), where };
}

/** Where the trailer's JSON ends (a cut in the padding after it loses nothing). */
function trailerJsonEnd(seed: StreamSeed): number {
  const t = seed.records[seed.trailer];
  return t.at + 24 + view(seed.bytes).getUint32(t.at + 16, true);
}

const truncateStream: Mutator<StreamSeed> = (seed, rng) => {
  const { at, where } = streamCut(seed, rng);
  const what = `cut ${where} at ${at} of ${seed.bytes.length}`;
  const bytes = seed.bytes.slice(0, at);
  if (at < seed.jsonEnd) return { bytes, what, expect: { kind: "error" } };
  return { bytes, what, expect: at >= trailerJsonEnd(seed) ? { kind: "same" } : { kind: "truncated" } };
};

const streamVersion: Mutator<StreamSeed> = (seed, rng) => {
  if (rng.chance(0.5)) {
    const major = STREAM_VERSION_MAJOR + rng.pick([1, 2, 0xfffe - STREAM_VERSION_MAJOR]);
    return { bytes: setU16(seed.bytes, FILE_HEADER.major, major), what: `major ${major}`, expect: { kind: "error", match: /newer ggml-lens/ } };
  }
  const minor = rng.pick([0, 1, 3, 0xffff]);
  return { bytes: setU16(seed.bytes, FILE_HEADER.minor, minor), what: `minor ${minor}`, expect: { kind: "same" } };
};

const streamMagic: Mutator<StreamSeed> = (seed, rng) => {
  const at = rng.below(8);
  const out = copy(seed.bytes);
  out[at] = (out[at] + rng.between(1, 255)) & 0xff;
  return { bytes: out, what: `magic byte ${at} = ${out[at]}`, expect: { kind: "error" } };
};

const jsonLength: Mutator<StreamSeed> = (seed, rng) => {
  const real = seed.jsonEnd - FILE_HEADER.size;
  const value = rng.pick([0, 1, real - 1, real + 1, real + 8, seed.bytes.length, MAX_JSON_BYTES, MAX_JSON_BYTES + 1, 0xffffffff, rng.u32()]);
  return { bytes: setU32(seed.bytes, FILE_HEADER.jsonLen, value), what: `JSON length ${value} (was ${real})`, expect: value === real ? { kind: "same" } : { kind: "error" } };
};

/** Header JSON texts (made on demand: some are large), with whether the header stays readable. */
function headerVariant(rng: Prng): [string, boolean] {
  const h = DEFAULT_HEADER as Record<string, unknown>;
  const odd = [null, -1, 0, 1e308, "x", [], {}, true, [null, 3, "y"], { length: 1e12 }];
  const variants: [() => string, boolean][] = [
    [() => JSON.stringify({ ...h, format: "other" }), false],
    [() => JSON.stringify({ ...h, format: "ggml-lens-stream\n<b>x</b>" }), false],
    [() => JSON.stringify([h]), false],
    [() => "null", false],
    [() => "12", false],
    [() => '"ggml-lens-stream"', false],
    [() => '{"format":\n"ggml-lens-stream",\n oops}', false],
    [() => '{"format":"ggml-lens-stream","x":"\ud800"', false],
    [() => JSON.stringify({ ...h, ops: rng.pick(odd) }), true],
    [() => JSON.stringify({ ...h, ops: Array.from({ length: rng.pick([0, 1, 5000]) }, (_, i) => `OP${i}`) }), true],
    [() => JSON.stringify({ ...h, types: rng.pick(odd) }), true],
    [() => JSON.stringify({ ...h, types: [{ name: 5, blck_size: rng.pick(odd), type_size: rng.pick(odd), is_quantized: "yes" }, null, 7] }), true],
    [() => JSON.stringify({ ...h, target: rng.pick(odd), libraries: rng.pick(odd), start_ns: rng.pick(odd) }), true],
    [() => JSON.stringify({ ...h, libraries: [{ path: rng.pick(odd), roles: rng.pick(odd), role: rng.pick(odd) }] }), true],
    [() => JSON.stringify({ ...h, sites: rng.pick(odd), layout: rng.pick(odd) }), true],
    [() => JSON.stringify({ ...h, deep: JSON.parse("[".repeat(2000) + "]".repeat(2000)) }), true],
    [() => JSON.stringify({ ...h, mode: "full\u0000\u001b[31m", clock: "\u2028" }), true],
  ];
  const [text, readable] = rng.pick(variants);
  return [text(), readable];
}

/** The stream with another JSON header (length and padding rewritten, records unchanged). */
function withHeader(seed: StreamSeed, json: string, pad: boolean): Uint8Array {
  const text = new TextEncoder().encode(json);
  const head = new Uint8Array(pad ? align8(FILE_HEADER.size + text.length) : FILE_HEADER.size + text.length);
  head.set(seed.bytes.subarray(0, FILE_HEADER.jsonLen));
  view(head).setUint32(FILE_HEADER.jsonLen, text.length, true);
  head.set(text, FILE_HEADER.size);
  return concat(head, seed.bytes.subarray(seed.recordsStart));
}

const headerJson: Mutator<StreamSeed> = (seed, rng) => {
  const [json, readable] = headerVariant(rng);
  const bytes = withHeader(seed, json, rng.chance(0.8));
  return { bytes, what: `header JSON ${JSON.stringify(json.slice(0, 80))}`, expect: readable ? { kind: "same" } : { kind: "error" } };
};

function anyRecord(seed: StreamSeed, rng: Prng): RecordSpan | undefined {
  return seed.trailer > 0 ? seed.records[rng.below(seed.trailer)] : undefined;
}

const recordSize: Mutator<StreamSeed> = (seed, rng) => {
  const r = rng.chance(0.85) ? anyRecord(seed, rng) : seed.records[seed.trailer];
  if (!r) return truncateStream(seed, rng);
  const size = r.end - r.at;
  const value = rng.pick([0, 1, 4, 8, 12, 16, 24, size - 8, size - 1, size + 1, size + 4, size + 8, 0xfff8, 0xffff, rng.below(0x10000)]) & 0xffff;
  const bytes = setU16(seed.bytes, r.at + RECORD_HEADER.recordSize, value);
  const what = `record at ${r.at} (type ${r.type}): size ${value} (was ${view(seed.bytes).getUint16(r.at + 2, true)})`;
  const broken = value < RECORD_HEADER.size || value % 8 !== 0;
  return { bytes, what, expect: broken && r.type !== RecordType.Trailer ? { kind: "truncated" } : { kind: "result" } };
};

const recordType: Mutator<StreamSeed> = (seed, rng) => {
  const r = anyRecord(seed, rng);
  if (!r) return truncateStream(seed, rng);
  const type = rng.pick([0, RecordType.Trailer, RecordType.GraphNode, RecordType.ExpertIds, RecordType.Sched, 14, 255, 256, 0xffff, rng.below(20)]);
  return { bytes: setU16(seed.bytes, r.at + RECORD_HEADER.type, type), what: `record at ${r.at}: type ${r.type} -> ${type}`, expect: { kind: "result" } };
};

/** A copy of the trailer put between two records: the rest is reported and ignored. */
const trailerInside: Mutator<StreamSeed> = (seed, rng) => {
  const at = seed.records[rng.below(seed.trailer + 1)].at;
  const t = seed.records[seed.trailer];
  const bytes = concat(seed.bytes.subarray(0, at), seed.bytes.subarray(t.at, t.end), seed.bytes.subarray(at));
  const kept = seed.records.findIndex((r) => r.at === at);
  return { bytes, what: `trailer copied to ${at}`, expect: { kind: "count", count: countBefore(seed, kept) } };
};

/** Records of the seed before record index `index` (the trailer is not one). */
function countBefore(seed: StreamSeed, index: number): number {
  return Math.min(index, seed.trailer);
}

/** Duplicated, shuffled or dropped runs of whole records: framing intact, counts known. */
const reorderRecords: Mutator<StreamSeed> = (seed, rng) => {
  const n = seed.trailer;
  if (n < 2) return truncateStream(seed, rng);
  const from = rng.below(n);
  const to = Math.min(n, from + rng.between(1, 12));
  const run = seed.records.slice(from, to);
  const runBytes = seed.bytes.subarray(run[0].at, run[run.length - 1].end);
  const head = seed.bytes.subarray(0, seed.recordsStart);
  const body = (a: number, b: number) => seed.bytes.subarray(seed.records[a].at, seed.records[b].at);
  const tail = seed.bytes.subarray(seed.records[n].at);
  const op = rng.below(3);
  if (op === 0) {
    const insertAt = rng.between(0, n);
    const bytes = concat(head, body(0, insertAt), runBytes, body(insertAt, n), tail);
    return { bytes, what: `records ${from}..${to} duplicated at ${insertAt}`, expect: { kind: "count", count: seed.count + run.length } };
  }
  if (op === 1) {
    const bytes = concat(head, body(0, from), body(to, n), tail);
    return { bytes, what: `records ${from}..${to} dropped`, expect: { kind: "count", count: seed.count - run.length } };
  }
  const shuffled = [...run];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const bytes = concat(head, body(0, from), ...shuffled.map((r) => seed.bytes.subarray(r.at, r.end)), body(to, n), tail);
  return { bytes, what: `records ${from}..${to} shuffled`, expect: { kind: "same" } };
};

/** An edge value in a field of a record (counts, indices, op and type numbers, shapes, times). */
const fieldValue: Mutator<StreamSeed> = (seed, rng) => {
  const r = anyRecord(seed, rng);
  if (!r) return truncateStream(seed, rng);
  const out = copy(seed.bytes);
  const fields = rng.between(1, 4);
  const where: string[] = [];
  for (let i = 0; i < fields; i++) {
    const wide = rng.chance(0.4);
    const at = r.at + 4 + (wide ? 8 * rng.below((r.end - r.at - 8) / 8) + 4 : 4 * rng.below((r.end - r.at - 4) / 4));
    if (wide && at + 8 <= r.end) view(out).setBigUint64(at, rng.pick(EDGE_U64), true);
    else view(out).setUint32(at, rng.chance(0.8) ? rng.pick(EDGE_U32) : rng.u32(), true);
    where.push(String(at - r.at));
  }
  return { bytes: out, what: `record at ${r.at} (type ${r.type}): edge values at +${where.join(",+")}`, expect: { kind: "same" } };
};

const randomBytes: Mutator<StreamSeed> = (seed, rng) => {
  const from = rng.chance(0.8) ? seed.recordsStart : 0;
  const { out, where } = flipBytes(seed.bytes, rng, from, seed.bytes.length, rng.between(1, 8));
  return { bytes: out, what: `bytes changed at ${where.join(",")}`, expect: from > 0 ? { kind: "result" } : { kind: "any" } };
};

const trailerJson: Mutator<StreamSeed> = (seed, rng) => {
  const t = seed.records[seed.trailer];
  const odd = [null, -1, 1e308, "x", [], {}, [null, { ip: "1" }, { ip: 5, inline_callers: 3 }], { a: "b" }];
  const json = rng.pick([
    "{",
    "[]",
    "null",
    '{"hits":\n1}\n}',
    JSON.stringify({ hits: rng.pick(odd), lost: rng.pick(odd), symbols: rng.pick(odd), exit_status: rng.pick(odd), windows: rng.pick(odd) }),
  ]);
  if (rng.chance(0.3)) {
    const len = rng.pick([0xffffffff, MAX_JSON_BYTES + 1, seed.bytes.length]);
    return { bytes: setU32(seed.bytes, t.at + 16, len), what: `trailer JSON length ${len}`, expect: { kind: "result" } };
  }
  const text = new TextEncoder().encode(json);
  const struct = setU32(seed.bytes.subarray(t.at, t.at + 24), 16, text.length);
  const padding = new Uint8Array(align8(text.length) - text.length);
  const bytes = concat(seed.bytes.subarray(0, t.at), struct, text, padding);
  return { bytes, what: `trailer JSON ${JSON.stringify(json.slice(0, 60))}`, expect: { kind: "result" } };
};

const appendGarbage: Mutator<StreamSeed> = (seed, rng) => {
  const extra = new Uint8Array(rng.between(1, 64)).map(() => rng.below(256));
  return { bytes: concat(seed.bytes, extra), what: `${extra.length} bytes appended`, expect: { kind: "result", errors: /after the trailer/ } };
};

export const STREAM_MUTATORS: [string, number, Mutator<StreamSeed>][] = [
  ["truncate", 14, truncateStream],
  ["version", 4, streamVersion],
  ["magic", 2, streamMagic],
  ["json-length", 4, jsonLength],
  ["header-json", 5, headerJson],
  ["record-size", 12, recordSize],
  ["record-type", 8, recordType],
  ["trailer-inside", 5, trailerInside],
  ["reorder", 10, reorderRecords],
  ["field-value", 14, fieldValue],
  ["random-bytes", 14, randomBytes],
  ["trailer-json", 5, trailerJson],
  ["append", 2, appendGarbage],
];

// ---- container mutations -----------------------------------------------------------------

export interface Section {
  codec: number;
  reserved?: number;
  payload: Uint8Array;
  decoded: number;
}

export function sectionsOf(seed: ContainerSeed): Section[] {
  return seed.sections.map((s) => ({
    codec: s.codec,
    payload: seed.bytes.subarray(s.at + SECTION_HEADER.size, s.at + SECTION_HEADER.size + s.stored),
    decoded: s.decoded,
  }));
}

/** A container from its sections, checksums made right (so that the reader looks past them). */
export function assemble(seed: ContainerSeed, sections: Section[]): Uint8Array {
  const parts: Uint8Array[] = [seed.bytes.slice(0, CONTAINER_HEADER.size)];
  view(parts[0]).setUint32(CONTAINER_HEADER.sections, sections.length, true);
  for (const s of sections) {
    const head = new Uint8Array(SECTION_HEADER.size);
    head[SECTION_HEADER.codec] = s.codec;
    head[SECTION_HEADER.codec + 1] = s.reserved ?? 0;
    view(head).setUint32(SECTION_HEADER.stored, s.payload.length, true);
    view(head).setUint32(SECTION_HEADER.decoded, s.decoded, true);
    const whole = concat(head, s.payload);
    view(whole).setUint32(SECTION_HEADER.crc, crc32(whole.subarray(SECTION_HEADER.codec)), true);
    parts.push(whole);
  }
  return concat(...parts);
}

function containerCut(seed: ContainerSeed, rng: Prng): Mutant {
  const s = rng.pick(seed.sections);
  const choices: [string, () => number][] = [
    ["in the header", () => rng.between(0, CONTAINER_HEADER.size - 1)],
    ["at a section", () => s.at],
    ["in a section header", () => s.at + rng.between(1, SECTION_HEADER.size - 1)],
    ["in a payload", () => s.at + SECTION_HEADER.size + rng.below(Math.max(1, s.stored))],
    ["one byte short", () => seed.bytes.length - 1],
  ];
  const [where, at] = rng.pick(choices);
  const cut = at();
  return { bytes: seed.bytes.slice(0, cut), what: `cut ${where} at ${cut} of ${seed.bytes.length}`, expect: { kind: "error" } };
}

function containerVersion(seed: ContainerSeed, rng: Prng): Mutant {
  if (rng.chance(0.5)) {
    const major = rng.pick([2, 3, 0xffff]);
    return { bytes: setU16(seed.bytes, CONTAINER_HEADER.major, major), what: `major ${major}`, expect: { kind: "error", match: /newer ggml-lens/ } };
  }
  const minor = rng.pick([1, 9, 0xffff]);
  return { bytes: setU16(seed.bytes, CONTAINER_HEADER.minor, minor), what: `minor ${minor}`, expect: { kind: "same" } };
}

function containerFraming(seed: ContainerSeed, rng: Prng): Mutant {
  const s = rng.pick(seed.sections);
  const fields: [string, () => Mutant][] = [
    ["magic", () => ({ bytes: flipBytes(seed.bytes, rng, 0, 8, 1).out, what: "magic", expect: { kind: "error" } })],
    ["section count", () => {
      const count = rng.pick([0, 1, seed.sections.length - 1, seed.sections.length + 1, 0x7fffffff, 0xffffffff]);
      return { bytes: setU32(seed.bytes, CONTAINER_HEADER.sections, count), what: `section count ${count}`, expect: { kind: "error" } };
    }],
    ["stored length", () => {
      const value = rng.pick([0, s.stored - 1, s.stored + 1, 0x7fffffff, 0xffffffff]);
      return { bytes: setU32(seed.bytes, s.at + SECTION_HEADER.stored, value), what: `section at ${s.at}: stored ${value}`, expect: { kind: "error" } };
    }],
    ["appended", () => ({ bytes: concat(seed.bytes, new Uint8Array(rng.between(1, 40))), what: "bytes appended", expect: { kind: "error", match: /after the last/ } })],
    ["damaged", () => {
      const { out, where } = flipBytes(seed.bytes, rng, s.at, s.at + SECTION_HEADER.size + s.stored, rng.between(1, 4));
      return { bytes: out, what: `section at ${s.at}: bytes changed at ${where.join(",")}, checksum left`, expect: { kind: "error" } };
    }],
  ];
  return rng.pick(fields)[1]();
}

/** Header fields and payloads of sections changed, with right checksums: the reader must look deeper. */
function sectionContent(seed: ContainerSeed, rng: Prng): Mutant {
  const sections = sectionsOf(seed);
  const index = rng.below(sections.length);
  const s = sections[index];
  const choices: [string, () => Expect][] = [
    ["codec", () => {
      s.codec = rng.pick([Codec.Stored, Codec.Deflate, Codec.Brotli, 3, 255]);
      return s.codec === seed.sections[index].codec ? { kind: "same" } : { kind: "any" };
    }],
    ["reserved byte", () => ((s.reserved = rng.between(1, 255)), { kind: "same" })],
    ["decoded length", () => {
      s.decoded = rng.pick([0, s.decoded - 1, s.decoded + 1, 0x7fffffff, 0xffffffff]) >>> 0;
      return s.decoded === seed.sections[index].decoded ? { kind: "same" } : { kind: "error" };
    }],
    ["payload", () => ((s.payload = flipBytes(s.payload, rng, 0, s.payload.length, rng.between(1, 6)).out), { kind: "any" })],
    ["payload cut", () => ((s.payload = s.payload.subarray(0, rng.below(s.payload.length + 1))), { kind: "any" })],
  ];
  const [what, change] = rng.pick(choices);
  const expect = change();
  return { bytes: assemble(seed, sections), what: `section ${index}: ${what}`, expect };
}

/** Sections swapped, duplicated or dropped, checksums right. */
function sectionOrder(seed: ContainerSeed, rng: Prng): Mutant {
  const sections = sectionsOf(seed);
  const a = rng.below(sections.length);
  const b = rng.below(sections.length);
  const op = rng.below(3);
  if (op === 0) [sections[a], sections[b]] = [sections[b], sections[a]];
  else if (op === 1) sections.splice(b, 0, sections[a]);
  else sections.splice(a, 1);
  return { bytes: assemble(seed, sections), what: `sections ${["swapped", "duplicated", "dropped"][op]}: ${a}, ${b}`, expect: a === b && op === 0 ? { kind: "same" } : { kind: "any" } };
}

/** Every place in a JSON value, as paths of keys. */
function jsonPaths(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => jsonPaths(v, [...path, i], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) jsonPaths(v, [...path, k], out);
  return out;
}

const ODD_JSON: unknown[] = [null, -1, 0, 0.5, 1, 3, 16, 2 ** 31, 2 ** 32, 1e12, 2 ** 53, 1e308, "", "x", "4", [], {}, true, [1, 2], { count: 1 }];

const META_PATHS = new WeakMap<object, (string | number)[][]>();

/** The places in a seed's metadata (a change may remove some: a path that no longer leads anywhere is skipped). */
function metaPaths(seed: ContainerSeed): (string | number)[][] {
  let paths = META_PATHS.get(seed.meta);
  if (!paths) META_PATHS.set(seed.meta, (paths = jsonPaths(seed.meta).filter((p) => p.length > 0)));
  return paths;
}

/** The metadata with one value replaced by an odd one, or removed (counts, sections, widths, ...). */
function metaValue(seed: ContainerSeed, rng: Prng): Mutant {
  const meta = structuredClone(seed.meta);
  const changes: string[] = [];
  const paths = metaPaths(seed);
  for (let n = rng.between(1, 3); n > 0; n--) {
    const path = rng.pick(paths);
    let parent = meta as Record<string | number, unknown> | undefined;
    for (const key of path.slice(0, -1)) parent = parent?.[key] as Record<string | number, unknown> | undefined;
    if (!parent || typeof parent !== "object") continue;
    const key = path[path.length - 1];
    const sectionIndex = rng.below(seed.sections.length + 2);
    // A copy: the odd objects are shared by all cases, and a later change may go inside this one.
    const value = structuredClone(rng.pick([...ODD_JSON, sectionIndex, typeof parent[key] === "number" ? (parent[key] as number) + rng.pick([-1, 1]) : 7]));
    if (rng.chance(0.15)) delete parent[key];
    else parent[key] = value;
    changes.push(`${path.join(".")} = ${JSON.stringify(parent[key])}`);
  }
  return { bytes: withMeta(seed, meta), what: `metadata ${changes.join(", ")}`, expect: { kind: "any" } };
}

export function withMeta(seed: ContainerSeed, meta: unknown): Uint8Array {
  const sections = sectionsOf(seed);
  const text = new TextEncoder().encode(JSON.stringify(meta));
  sections[0] = { codec: Codec.Deflate, payload: deflateRawSync(text, { level: 1 }), decoded: text.length };
  return assemble(seed, sections);
}

/** A numeric column's values replaced by edge values (stored, so widths stay right): garbage a view must survive. */
function columnValues(seed: ContainerSeed, rng: Prng): Mutant {
  const tables = seed.meta.tables as Record<string, { count: number; columns: Record<string, { section: number; width: number }> }>;
  const columns = Object.entries(tables).flatMap(([table, info]) => Object.entries(info.columns).map(([key, c]) => ({ name: `${table}.${key}`, ...c })));
  if (columns.length === 0) return metaValue(seed, rng);
  const column = rng.pick(columns);
  const sections = sectionsOf(seed);
  const payload = new Uint8Array(seed.sections[column.section].decoded);
  for (let i = 0; i + 4 <= payload.length; i += 4) view(payload).setUint32(i, rng.chance(0.7) ? rng.pick(EDGE_U32) : rng.u32(), true);
  for (let i = payload.length & ~3; i < payload.length; i++) payload[i] = rng.below(256);
  sections[column.section] = { codec: Codec.Stored, payload, decoded: payload.length };
  return { bytes: assemble(seed, sections), what: `column ${column.name}: edge values`, expect: { kind: "same" } };
}

export const CONTAINER_MUTATORS: [string, number, Mutator<ContainerSeed>][] = [
  ["truncate", 10, containerCut],
  ["version", 4, containerVersion],
  ["framing", 12, containerFraming],
  ["section-content", 14, sectionContent],
  ["section-order", 6, sectionOrder],
  ["metadata", 20, metaValue],
  ["column-values", 10, columnValues],
];

function weighted<T>(list: [string, number, T][], rng: Prng): [string, T] {
  const total = list.reduce((n, [, w]) => n + w, 0);
  let x = rng.below(total);
  for (const [name, w, value] of list) {
    if (x < w) return [name, value];
    x -= w;
  }
  throw new Error("unreachable");
}

function applyOne(seed: Seed, rng: Prng): Mutant & { mutator: string } {
  if (seed.kind === "stream") {
    const [mutator, m] = weighted(STREAM_MUTATORS, rng);
    return { ...m(seed, rng), mutator };
  }
  const [mutator, m] = weighted(CONTAINER_MUTATORS, rng);
  return { ...m(seed, rng), mutator };
}

/**
 * A case: one mutation of a seed, or (one in five) several stacked, whose result only has to be
 * safe. A stacked step that cannot apply to what the previous ones left (its map of records is
 * stale by then) ends the stack.
 */
export function mutate(seed: Seed, rng: Prng): Mutant & { mutator: string } {
  const stacked = rng.chance(0.2) ? rng.between(2, 4) : 1;
  let mutant = applyOne(seed, rng);
  for (let i = 1; i < stacked; i++) {
    let next: Mutant & { mutator: string };
    try {
      next = applyOne(reseed(seed, mutant.bytes), rng);
    } catch {
      break;
    }
    mutant = { bytes: next.bytes, what: `${mutant.what}; then ${next.what}`, expect: { kind: "any" }, mutator: `${mutant.mutator}+${next.mutator}` };
  }
  return mutant;
}

/**
 * A mutant as the seed of the next stacked mutation: it keeps the original's map of records or
 * sections (now partly wrong, which is the point), over the new bytes.
 */
function reseed(seed: Seed, bytes: Uint8Array): Seed {
  if (seed.kind === "stream") {
    const records = seed.records.filter((r) => r.end <= bytes.length);
    const trailer = records.length > 0 ? records.length - 1 : 0;
    const safe = records.length > 0 ? records : [{ at: 0, end: Math.min(bytes.length, 24), type: RecordType.Trailer }];
    return { ...seed, bytes, records: safe, trailer, jsonEnd: Math.min(seed.jsonEnd, bytes.length) };
  }
  const sections = seed.sections.filter((s) => s.at + SECTION_HEADER.size + s.stored <= bytes.length);
  return { ...seed, bytes, sections: sections.length > 0 ? sections : [{ at: 0, codec: 0, stored: 0, decoded: 0 }] };
}
