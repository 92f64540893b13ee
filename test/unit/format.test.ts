import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import {
  Codec,
  CONTAINER_HEADER,
  CONTAINER_VERSION_MAJOR,
  decodeContainer,
  encodeContainer,
  isContainer,
  MAX_INFLATE_RATIO,
  MAX_META_BYTES,
  SECTION_HEADER,
  type ContainerMeta,
} from "../../extension/profile/format";
import { convertToContainer, loadProfile, loadRecording, ProfileReadError, saveContainer } from "../../extension/profile/file";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream, LAYOUTS, NAME_CAP, ProfileFormatError, TABLE_NAMES, tensorName, type DecodedStream, type TableName } from "../../extension/profile/stream";
import { DEFAULT_HEADER, OP, StreamBuilder } from "./streamBuilder";

const TOOL = { name: "ggml-lens", version: "0.0.0-test" };
const SIG = 0x8000_0000_dead_beefn;
const work = mkdtempSync(path.join(tmpdir(), "ggml-lens-format-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** A stream with a record of every type, values at the edges of their widths, times not in order across threads. */
function richStream(): StreamBuilder {
  const b = new StreamBuilder()
    .window({ tid: 0, ts: 10, on: true })
    .decodeBegin({ tid: 7, ts: 100, nTokens: 5 })
    .graphBegin({ tid: 7, ts: 110, signature: SIG, nNodes: 2 })
    .graphNode({ tid: 7, ts: 111, signature: SIG, tensor: 0x7f00_0000_1000, index: 0, op: OP.RMS_NORM, ne: [4096, 5, 1, 1], name: "norm-0" })
    .graphNode({ tid: 7, ts: 112, signature: SIG, tensor: 0x7f00_0000_2000, index: 1, op: OP.MUL, src: [0x7f00_0000_1000], ne: [-1, 2 ** 40, 3, 1], name: "ffn_inp-0" })
    .graphLeaf({ tid: 7, ts: 113, signature: SIG, tensor: 0x7f00_0000_9000, ne: [4096, 11008, 1, 1], type: 2, consumer: 1, name: "blk.0.ffn_up.weight" })
    .opBegin({ tid: 7, ts: 120, tensor: 0x7f00_0000_1000, tensor2: 0x7f00_0000_2000, op: OP.RMS_NORM, flags: 1, ne: [4096, 5, 1, 1], type: 2, name: "norm-0" })
    .opBegin({ tid: 8, ts: 119, tensor: 0x7f00_0000_1000, op: OP.MUL_MAT, ith: 1, cpu: 3, site: 70000, name: "ffn_up-0" })
    .sample({ tid: 8, ts: 121, ip: 0x7fff_ffff_f000 })
    .opEnd({ tid: 7, ts: 150, tensor: 0x7f00_0000_1000, minFlt: 3, nvcsw: 70000, cpuNs: 2 ** 33 + 5 })
    .opEnd({ tid: 8, ts: 140, tensor: 0x7f00_0000_1000, majFlt: 1, cpuNs: 12 })
    .expertIds({ tid: 8, ts: 141, tensor: 0x7f00_0000_3000, nUsed: 2, nTokens: 3, ids: [5, -1, 7, 0, 63, 2] })
    .sched({ tid: 8, ts: 145, kind: 1 })
    .graphEnd({ tid: 7, ts: 160 })
    .decodeEnd({ tid: 7, ts: 170, ret: -3 });
  // A long gap, then times going back (another CPU's clock read earlier).
  return b
    .decodeBegin({ tid: 7, ts: 5_000_000_000_000, nTokens: 1 })
    .opBegin({ tid: 7, ts: 5_000_000_000_010, tensor: 0x7f00_0000_2000, op: OP.ADD, name: "norm-0" })
    .opEnd({ tid: 7, ts: 5_000_000_000_001, tensor: 0x7f00_0000_2000 })
    .decodeEnd({ tid: 7, ts: 5_000_000_000_020 })
    .window({ tid: 0, ts: 5_000_000_000_030, on: false })
    .trailer({ ...StreamBuilderTrailer(), symbols: [{ ip: 0x7fff_ffff_f000, function: "ggml_vec_dot_q4_0_q8_0", file: "quants.c", line: 12 }] });
}

function StreamBuilderTrailer(): Record<string, unknown> {
  return { hits: { op_begin: 3 }, lost: { sample: 2 }, exit_status: 0, windows: 1, duration_ns: 9 };
}

function containerOf(stream: DecodedStream, codec = Codec.Deflate): Uint8Array {
  return encodeContainer(stream, { tool: TOOL, created: new Date("2026-01-02T03:04:05Z"), compression: { codec, level: 1 } });
}

function columnsOf(stream: DecodedStream, table: TableName): Record<string, unknown[]> {
  const t = stream.tables[table] as unknown as Record<string, ArrayLike<unknown>>;
  const keys = ["offset", "ts", "tid", ...Object.entries(LAYOUTS[table].fields).filter(([, f]) => f.kind !== "char").map(([k]) => k)];
  return Object.fromEntries(keys.map((k) => [k, Array.from(t[k])]));
}

/** Everything a profile says, as plain values (typed arrays and lazy tables read out). */
function plainProfile(p: Profile): unknown {
  // The record tables (samples, sched, windows, opRecords) are compared column by column in assertSameRecording.
  const { spans, samples, sched, windows, opRecords, structures, ...rest } = p;
  return {
    ...rest,
    spans: Object.fromEntries(Object.entries(spans).map(([k, v]) => [k, typeof v === "number" ? v : Array.from(v as ArrayLike<number>)])),
    structures: [...structures],
    counts: [samples.count, sched.count, windows.count, opRecords.begin.count, opRecords.end.count],
  };
}

function assertSameRecording(a: DecodedStream, b: DecodedStream): void {
  for (const table of TABLE_NAMES) assert.deepEqual(columnsOf(b, table), columnsOf(a, table), table);
  for (let row = 0; row < a.tables.graphNode.count; row++) assert.equal(tensorName(b, "graphNode", row), tensorName(a, "graphNode", row));
  for (let row = 0; row < a.tables.graphLeaf.count; row++) assert.equal(tensorName(b, "graphLeaf", row), tensorName(a, "graphLeaf", row));
  assert.deepEqual(b.header, a.header);
  assert.deepEqual(b.trailer, a.trailer);
  assert.deepEqual([b.truncated, b.errors, b.count, [...b.unknown]], [a.truncated, a.errors, a.count, [...a.unknown]]);
  assert.deepEqual(plainProfile(buildProfile(b)), plainProfile(buildProfile(a)));
}

test("a container holds every column, name, header and trailer of the stream; the profile is the same", () => {
  const raw = decodeStream(richStream().bytes());
  for (const codec of [Codec.Stored, Codec.Deflate, Codec.Brotli]) {
    const bytes = containerOf(raw, codec);
    assert.ok(isContainer(bytes));
    assertSameRecording(raw, decodeContainer(bytes).stream);
  }
  assert.equal(buildProfile(raw).structures.get("80000000deadbeef")?.[1].name, "ffn_inp-0");
  assert.equal(tensorName(raw, "graphLeaf", 0), "blk.0.ffn_up.weight");
});

test("a cut-short stream stays cut short in its container, with its errors; unknown record types are counted", () => {
  const full = new StreamBuilder()
    .record(200, 24, { tid: 1, ts: 5 })
    .opBegin({ tid: 1, ts: 10, tensor: 0xa, op: OP.ADD, name: "x" })
    .opEnd({ tid: 1, ts: 20, tensor: 0xa })
    .bytes();
  const raw = decodeStream(full.subarray(0, full.length - 8));
  assert.ok(raw.truncated && raw.errors.length > 0);
  const loaded = decodeContainer(containerOf(raw)).stream;
  assertSameRecording(raw, loaded);
  assert.deepEqual([...loaded.unknown], [[200, 1]]);
});

test("metadata: tool, creation time, machine ceilings (null when unknown), the stream's version", () => {
  const raw = decodeStream(richStream().bytes());
  const { meta } = decodeContainer(encodeContainer(raw, { tool: TOOL, created: new Date("2026-01-02T03:04:05Z") }));
  assert.deepEqual([meta.tool, meta.created, meta.machine], [TOOL, "2026-01-02T03:04:05.000Z", null]);
  assert.deepEqual([meta.stream.major, meta.stream.minor], [raw.header.major, raw.header.minor]);
  const machine = { format: "ggml-lens-machine", peak_gflops: { all_threads: { median: 100 } } };
  assert.deepEqual(decodeContainer(encodeContainer(raw, { tool: TOOL, machine })).meta.machine, machine);
});

test("the command line ggml-lens launched is added to the header when the helper did not record one", () => {
  const argv = ["llama-completion", "-m", "model.gguf", "-t", "2"];
  const without = decodeStream(richStream().bytes());
  assert.deepEqual(decodeContainer(encodeContainer(without, { tool: TOOL, argv })).stream.header.info.target.argv, argv);
  const header = { ...DEFAULT_HEADER, target: { ...DEFAULT_HEADER.target, argv: ["from", "the", "helper"] } };
  const withArgv = decodeStream(new StreamBuilder(header).trailer().bytes());
  assert.deepEqual(decodeContainer(encodeContainer(withArgv, { tool: TOOL, argv })).stream.header.info.target.argv, ["from", "the", "helper"]);
});

test("columns are narrowed and times delta-encoded: repeated op pairs take a few bytes each", () => {
  const b = new StreamBuilder();
  for (let i = 0; i < 20_000; i++) {
    b.opBegin({ tid: 1 + (i % 2), ts: 1e12 + 1000 * i, tensor: 0x7f00_0000_0000 + 64 * (i % 200), op: i % 7, name: `blk.${i % 200}` });
    b.opEnd({ tid: 1 + (i % 2), ts: 1e12 + 1000 * i + 700, tensor: 0x7f00_0000_0000 + 64 * (i % 200), cpuNs: 690 });
  }
  const raw = decodeStream(b.trailer().bytes());
  const bytes = containerOf(raw);
  const perPair = bytes.length / 20_000;
  assert.ok(perPair < 12, `${perPair.toFixed(1)} bytes per op pair (raw: ${(208).toFixed(0)})`);
  const { meta } = decodeContainer(bytes);
  assert.deepEqual(
    [meta.tables.opBegin.columns.ts.width, meta.tables.opBegin.columns.ts.delta, meta.tables.opBegin.columns.op.width],
    [2, true, 1],
  );
  assertSameRecording(raw, decodeContainer(bytes).stream);
});

// ---- errors ------------------------------------------------------------------------------

function sample(): Uint8Array {
  return containerOf(decodeStream(richStream().bytes()));
}

/** Offsets of the sections of a container, in order. */
function sectionOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const offsets: number[] = [];
  for (let at = CONTAINER_HEADER.size; at < bytes.length; at += SECTION_HEADER.size + view.getUint32(at + SECTION_HEADER.stored, true)) offsets.push(at);
  return offsets;
}

function withMeta(bytes: Uint8Array, edit: (meta: ContainerMeta) => void): Uint8Array {
  const { meta } = decodeContainer(bytes);
  edit(meta);
  const [metaAt, dataAt] = sectionOffsets(bytes);
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const section = new Uint8Array(SECTION_HEADER.size + json.length);
  const view = new DataView(section.buffer);
  view.setUint32(SECTION_HEADER.stored, json.length, true);
  view.setUint32(SECTION_HEADER.decoded, json.length, true);
  section.set(json, SECTION_HEADER.size);
  view.setUint32(SECTION_HEADER.crc, crc32(section.subarray(SECTION_HEADER.codec)), true);
  const out = new Uint8Array(metaAt + section.length + bytes.length - dataAt);
  out.set(bytes.subarray(0, metaAt));
  out.set(section, metaAt);
  out.set(bytes.subarray(dataAt), metaAt + section.length);
  return out;
}

function rejects(bytes: Uint8Array, message: RegExp): void {
  assert.throws(() => decodeContainer(bytes), (err: unknown) => err instanceof ProfileFormatError && message.test(err.message));
}

test("a newer major version is refused with its version named; a newer minor version is read", () => {
  const bytes = sample();
  const newer = bytes.slice();
  new DataView(newer.buffer).setUint16(CONTAINER_HEADER.major, CONTAINER_VERSION_MAJOR + 1, true);
  rejects(newer, new RegExp(`newer ggml-lens: file format ${CONTAINER_VERSION_MAJOR + 1}\\.0, this version reads ${CONTAINER_VERSION_MAJOR}\\.x; update ggml-lens`));
  const minor = bytes.slice();
  new DataView(minor.buffer).setUint16(CONTAINER_HEADER.minor, 99, true);
  assert.equal(decodeContainer(minor).stream.tables.opBegin.count, 3);
});

test("a file cut anywhere is reported cut short, never read in part", () => {
  const bytes = sample();
  const cuts = [10, CONTAINER_HEADER.size + 4, ...sectionOffsets(bytes).slice(1).flatMap((at) => [at + 3, at + SECTION_HEADER.size + 1]), bytes.length - 1];
  for (const cut of cuts) rejects(bytes.subarray(0, cut), /cut short/);
});

test("a damaged byte in any section fails its checksum, naming the section", () => {
  const bytes = sample();
  const offsets = sectionOffsets(bytes);
  const { meta } = decodeContainer(bytes);
  const tsSection = meta.tables.opBegin.columns.ts.section;
  const cases: [number, RegExp][] = [
    [offsets[0] + SECTION_HEADER.size + 2, /section 0 \(metadata\) fails its checksum/],
    [offsets[tsSection] + SECTION_HEADER.size, new RegExp(`section ${tsSection} \\(opBegin\\.ts\\) fails its checksum; the file was damaged`)],
    [offsets[tsSection] + SECTION_HEADER.codec, /opBegin\.ts\) fails its checksum/],
    [offsets[meta.tables.graphNode.strings.name.dictionary] + SECTION_HEADER.size + 1, /graphNode\.name dictionary\) fails its checksum/],
  ];
  for (const [at, message] of cases) {
    const damaged = bytes.slice();
    damaged[at] ^= 0x40;
    rejects(damaged, message);
  }
});

test("a section in a compression this version does not know is refused up front, naming it", () => {
  const bytes = sample();
  const { meta } = decodeContainer(bytes);
  const section = meta.tables.opEnd.columns.cpuNs.section;
  const at = sectionOffsets(bytes)[section];
  const changed = bytes.slice();
  changed[at + SECTION_HEADER.codec] = 9;
  new DataView(changed.buffer).setUint32(at + SECTION_HEADER.crc, crc32(changed.subarray(at + SECTION_HEADER.codec, at + SECTION_HEADER.size + new DataView(changed.buffer).getUint32(at + SECTION_HEADER.stored, true))), true);
  rejects(changed, new RegExp(`section ${section} \\(opEnd\\.cpuNs\\) uses compression 9, unknown to this version; update ggml-lens`));
});

test("bytes after the last section, a bad section count, broken metadata and columns of the wrong length are errors", () => {
  const bytes = sample();
  const longer = new Uint8Array(bytes.length + 3);
  longer.set(bytes);
  rejects(longer, /corrupt: 3 bytes after the last of its \d+ sections/);
  const fewer = bytes.slice();
  new DataView(fewer.buffer).setUint32(CONTAINER_HEADER.sections, 2, true);
  rejects(fewer, /bytes after the last of its 2 sections/);
  rejects(withMeta(bytes, (m) => delete (m as Partial<ContainerMeta>).tables), /metadata lacks the format, stream or tables/);
  rejects(withMeta(bytes, (m) => (m.tables.opEnd.columns.ts.section = 10_000)), /opEnd\.ts is in section 10000, the file has \d+/);
  const wrongCount = withMeta(bytes, (m) => (m.tables.opEnd.count = 5));
  assert.throws(() => decodeContainer(wrongCount).stream.tables.opEnd.ts, /corrupt: column opEnd\.\w+ holds 3 values for 5 rows/);
});

test("a column the file lacks (written before the field existed) reads as zeros, and the profile says so", () => {
  const bytes = withMeta(sample(), (m) => delete m.tables.opEnd.columns.cpuNs);
  const { stream } = decodeContainer(bytes);
  assert.deepEqual(Array.from(stream.tables.opEnd.cpuNs), [0, 0, 0]);
  assert.ok(stream.errors.some((e) => /opEnd\.cpuNs is not in this file \(written by an older ggml-lens\): read as 0/.test(e)));
});

// ---- limits ------------------------------------------------------------------------------

interface SectionEdit {
  codec?: number;
  payload?: Uint8Array;
  decoded?: number;
}

/** The container with sections changed, checksums made right (so that the reader looks past them). */
function withSections(bytes: Uint8Array, edits: Record<number, SectionEdit>): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const parts: Uint8Array[] = [bytes.subarray(0, CONTAINER_HEADER.size)];
  sectionOffsets(bytes).forEach((at, index) => {
    const stored = view.getUint32(at + SECTION_HEADER.stored, true);
    const edit = edits[index] ?? {};
    const payload = edit.payload ?? bytes.subarray(at + SECTION_HEADER.size, at + SECTION_HEADER.size + stored);
    const section = new Uint8Array(SECTION_HEADER.size + payload.length);
    const out = new DataView(section.buffer);
    section[SECTION_HEADER.codec] = edit.codec ?? bytes[at + SECTION_HEADER.codec];
    out.setUint32(SECTION_HEADER.stored, payload.length, true);
    out.setUint32(SECTION_HEADER.decoded, edit.decoded ?? view.getUint32(at + SECTION_HEADER.decoded, true), true);
    section.set(payload, SECTION_HEADER.size);
    out.setUint32(SECTION_HEADER.crc, crc32(section.subarray(SECTION_HEADER.codec)), true);
    parts.push(section);
  });
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (whole.set(p, at), at + p.length), 0);
  return whole;
}

/** Opened, built into a profile and every column read, times first (as the timeline reads them). */
function load(bytes: Uint8Array): void {
  const { stream } = decodeContainer(bytes);
  buildProfile(stream);
  for (const table of TABLE_NAMES) void [stream.tables[table].ts, ...Object.values(stream.tables[table])];
}

const HUGE_ROWS = 4e9;

/** The sample with 4e9 sched rows: only an offset column, whose section says it holds them (the other columns read as zeros). */
function hugeTable(payloadBytes: number): Uint8Array {
  const original = sample();
  const { offset } = decodeContainer(original).meta.tables.sched.columns;
  assert.equal(offset.width, 1);
  const bytes = withMeta(original, (m) => (m.tables.sched = { count: HUGE_ROWS, columns: { offset }, strings: {} }));
  return withSections(bytes, { [offset.section]: { payload: new Uint8Array(payloadBytes), decoded: HUGE_ROWS } });
}

test("a table of 4e9 rows whose offset section says it holds them is refused when opened, before any array is sized (it made a RangeError)", () => {
  const started = performance.now();
  assert.throws(() => load(hugeTable(64)), (err: unknown) => err instanceof ProfileFormatError && /sched\.offset\) says it decodes to 4000000000 bytes from 64, more than 1032 times that/.test((err as Error).message));
  // Stored bytes enough for 1032:1: the rows are more than any raw stream holds.
  const enough = Math.ceil(HUGE_ROWS / MAX_INFLATE_RATIO);
  assert.throws(() => load(hugeTable(enough)), (err: unknown) => err instanceof ProfileFormatError && /say they hold 400000\d{4} rows, \d+ bytes of records, more than the 4295032832 a recording can hold/.test((err as Error).message));
  assert.ok(performance.now() - started < 2000, `refused in ${performance.now() - started} ms`);
});

test("a section's decoded length must be one its stored bytes can give: as is for stored, at most 1032:1 compressed", () => {
  const bytes = sample();
  const { meta } = decodeContainer(bytes);
  const ts = meta.tables.opBegin.columns.ts.section;
  rejects(withSections(bytes, { 0: { decoded: 2 ** 31 } }), /section 0 \(metadata\) says it decodes to 2147483648 bytes from \d+, more than 1032 times that/);
  rejects(withSections(bytes, { 0: { payload: new Uint8Array(Math.ceil((MAX_META_BYTES + 1) / MAX_INFLATE_RATIO)), decoded: MAX_META_BYTES + 1 } }), /the metadata says it is \d+ bytes, more than the 335544320 it may be/);
  const stored = new Uint8Array(12);
  rejects(withSections(bytes, { [ts]: { codec: Codec.Stored, payload: stored, decoded: 24 } }), new RegExp(`section ${ts} \\(opBegin\\.ts\\) stores 12 bytes as they are, its header says 24`));
});

test("a dictionary larger than its table's names can take is refused when opened", () => {
  const bytes = sample();
  const { meta } = decodeContainer(bytes);
  const { dictionary } = meta.tables.graphNode.strings.name;
  const rows = meta.tables.graphNode.count;
  const names = new TextEncoder().encode(JSON.stringify(Array.from({ length: 1000 }, (_, i) => `name-${i}`)));
  assert.ok(names.length > 2 + rows * (6 * NAME_CAP + 3));
  rejects(withSections(bytes, { [dictionary]: { codec: Codec.Stored, payload: names, decoded: names.length } }), new RegExp(`graphNode\\.name dictionary is ${names.length} bytes, more than ${rows} names take`));
});

test("the writer keeps every section within 1032:1: a brotli column of one repeated value is stored with deflate", () => {
  const b = new StreamBuilder();
  // Times at irregular steps (they stay brotli); thread and kind always the same (they cannot).
  let [ts, random] = [1000, 1];
  for (let i = 0; i < 50_000; i++) {
    random = (random * 48271) % 2147483647;
    b.sched({ tid: 3, ts: (ts += 5 + (random % 61)), kind: 1 });
  }
  const raw = decodeStream(b.trailer().bytes());
  const bytes = containerOf(raw, Codec.Brotli);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const codecs = sectionOffsets(bytes).map((at) => {
    const [stored, decoded] = [view.getUint32(at + SECTION_HEADER.stored, true), view.getUint32(at + SECTION_HEADER.decoded, true)];
    assert.ok(decoded <= stored * MAX_INFLATE_RATIO, `section at ${at}: ${decoded} bytes from ${stored}`);
    return bytes[at + SECTION_HEADER.codec];
  });
  assert.ok(codecs.slice(1).includes(Codec.Deflate) && codecs.slice(1).includes(Codec.Brotli), `codecs ${codecs.join(",")}`);
  assertSameRecording(raw, decodeContainer(bytes).stream);
});

// ---- files -------------------------------------------------------------------------------

test("loadProfile reads containers and raw streams; errors name the file", async () => {
  const rawFile = path.join(work, "raw.ggmlprof");
  const containerFile = path.join(work, "container.ggmlprof");
  writeFileSync(rawFile, richStream().bytes());
  writeFileSync(containerFile, sample());
  assert.deepEqual(plainProfile(await loadProfile(containerFile)), plainProfile(await loadProfile(rawFile)));
  assert.ok((await loadRecording(containerFile)).meta);
  assert.equal((await loadRecording(rawFile)).meta, undefined);

  const damaged = sample();
  damaged[damaged.length - 1] ^= 1;
  writeFileSync(path.join(work, "damaged.ggmlprof"), damaged);
  await assert.rejects(loadProfile(path.join(work, "damaged.ggmlprof")), (err: unknown) => err instanceof ProfileFormatError && err.message.startsWith(`${path.join(work, "damaged.ggmlprof")}: corrupt: section`));
  writeFileSync(path.join(work, "other.bin"), "PK\x03\x04 not a profile at all");
  await assert.rejects(loadProfile(path.join(work, "other.bin")), /other\.bin: not a ggml-lens profile/);
  await assert.rejects(loadProfile(path.join(work, "missing.ggmlprof")), (err: unknown) => err instanceof ProfileReadError && /missing\.ggmlprof: no such file/.test(err.message));
});

test("convertToContainer rewrites a raw stream in place; a failed write or a file it cannot read is left as it was", async () => {
  const file = path.join(work, "convert.ggmlprof");
  const raw = richStream().bytes();
  writeFileSync(file, raw);
  const recording = await convertToContainer(file, { tool: TOOL });
  const converted = new Uint8Array(readFileSync(file));
  assert.ok(isContainer(converted) && !isContainer(raw));
  assert.deepEqual(plainProfile((await loadRecording(file)).profile), plainProfile(recording.profile));
  assert.deepEqual(new Uint8Array(readFileSync(file)), converted, "converting a container again leaves it alone");
  await convertToContainer(file, { tool: TOOL });
  assert.deepEqual(new Uint8Array(readFileSync(file)), converted);

  const directory = path.join(work, "a-directory.ggmlprof");
  mkdirSync(directory);
  await assert.rejects(saveContainer(directory, decodeStream(raw), { tool: TOOL }));
  assert.ok(!existsSync(`${directory}.converting`), "no temporary file left behind");
  assert.ok(statSync(directory).isDirectory());

  const broken = path.join(work, "broken.ggmlprof");
  writeFileSync(broken, "GGMLLENS\x09\x00");
  await assert.rejects(convertToContainer(broken, { tool: TOOL }), (err: unknown) => err instanceof ProfileFormatError && /broken\.ggmlprof: not a complete/.test(err.message));
  assert.equal(readFileSync(broken, "latin1"), "GGMLLENS\x09\x00");
});
