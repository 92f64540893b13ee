import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeStream,
  LAYOUTS,
  MAX_JSON_BYTES,
  ProfileFormatError,
  StreamDecoder,
  TABLE_NAMES,
  tensorName,
  type RecordBatch,
} from "../../extension/profile/stream";
import { benchStream, DEFAULT_HEADER, DEFAULT_TRAILER, eventRate, manyOps, OP, StreamBuilder } from "./streamBuilder";

const SIG = 0xfedcba9876543210n;

/** One record of every type, then the trailer. */
function fullStream(builder = new StreamBuilder()): StreamBuilder {
  return builder
    .decodeBegin({ tid: 10, ts: 100, ctx: 0x5555, nTokens: 7, cpu: 1 })
    .graphBegin({ tid: 10, ts: 110, graph: 0x7777, signature: SIG, nNodes: 3 })
    .graphNode({
      tid: 10,
      ts: 111,
      signature: SIG,
      tensor: 0x1000,
      src: [0x2000, 0x3000],
      ne: [4096, 7, 1, 1],
      nb: [4, 16384, 114688, 114688],
      index: 2,
      op: OP.MUL_MAT,
      type: 0,
      flags: 16,
      opParams0: -3,
      name: "ffn_out-0",
    })
    .opBegin({ tid: 11, ts: 120, tensor: 0x1000, tensor2: 0x1100, ne: [4096, 7, -1, 1], op: OP.MUL_MAT, type: 2, ith: 1, cpu: 3, site: 5, flags: 1, name: "ffn_out-0" })
    .opEnd({ tid: 11, ts: 150, tensor: 0x1000 })
    .expertIds({ tid: 11, ts: 151, tensor: 0x1000, nUsed: 2, nTokens: 2, ids: [3, 1, 0, 7] })
    .sample({ tid: 11, ts: 152, ip: 0x7fff12345678, tensor: 0x1000 })
    .sched({ tid: 11, ts: 153, kind: 2 })
    .window({ tid: 0, ts: 154, on: true })
    .graphEnd({ tid: 10, ts: 160, status: 0 })
    .decodeEnd({ tid: 10, ts: 170, ret: 1 })
    .trailer();
}

function assertFormatError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ProfileFormatError && pattern.test(err.message));
}

test("decodes the header, every record type and the trailer", () => {
  const s = decodeStream(fullStream().bytes());
  assert.equal(s.header.major, 1);
  assert.equal(s.header.minor, 1);
  assert.deepEqual(s.header.info.ops, DEFAULT_HEADER.ops);
  assert.equal(s.header.info.types[2].name, "q4_0");
  assert.deepEqual(s.header.info.target, { pid: 4242, exe: "/build/bin/llama-completion", argv: [], launched: true });
  assert.deepEqual(s.header.info.libraries, [{ path: "/lib/libggml-cpu.so", build_id: "abcd", roles: ["ggml-cpu"], has_dwarf: true, source_lines: [] }]);
  assert.equal(s.header.info.op_method, "dwarf-inline");
  assert.equal(s.truncated, false);
  assert.deepEqual(s.errors, []);
  assert.equal(s.count, 11);
  const t = s.tables;
  assert.deepEqual([t.decodeBegin.ts[0], t.decodeBegin.tid[0], t.decodeBegin.ctx[0], t.decodeBegin.nTokens[0], t.decodeBegin.cpu[0]], [100, 10, 0x5555, 7, 1]);
  assert.deepEqual([t.decodeEnd.ret[0], t.decodeEnd.ts[0]], [1, 170]);
  assert.deepEqual([t.graphBegin.graph[0], t.graphBegin.signature[0], t.graphBegin.nNodes[0]], [0x7777, SIG, 3]);
  assert.deepEqual([t.graphEnd.status[0], t.graphEnd.ts[0]], [0, 160]);
  const n = t.graphNode;
  assert.deepEqual([n.signature[0], n.tensor[0], n.index[0], n.op[0], n.flags[0], n.opParams0[0]], [SIG, 0x1000, 2, OP.MUL_MAT, 16, -3]);
  assert.deepEqual([...n.src], [0x2000, 0x3000, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...n.ne], [4096, 7, 1, 1]);
  assert.deepEqual([...n.nb], [4, 16384, 114688, 114688]);
  assert.equal(tensorName(s, "graphNode", 0), "ffn_out-0");
  const o = t.opBegin;
  assert.deepEqual([o.tid[0], o.ts[0], o.tensor[0], o.tensor2[0], o.op[0], o.type[0], o.ith[0], o.cpu[0], o.site[0], o.flags[0]], [11, 120, 0x1000, 0x1100, OP.MUL_MAT, 2, 1, 3, 5, 1]);
  assert.deepEqual([...o.ne], [4096, 7, -1, 1]);
  assert.deepEqual([t.opEnd.tensor[0], t.opEnd.ts[0]], [0x1000, 150]);
  const e = t.expertIds;
  assert.deepEqual([e.count, e.nUsed[0], e.nTokens[0], e.idCount[0]], [1, 2, 2, 4]);
  assert.deepEqual([...e.ids.subarray(0, 5)], [3, 1, 0, 7, 0]);
  assert.equal(e.ids.length, 64);
  assert.deepEqual([t.sample.ip[0], t.sample.tensor[0]], [0x7fff12345678, 0x1000]);
  assert.equal(t.sched.kind[0], 2);
  assert.equal(t.window.on[0], 1);
  assert.deepEqual(s.trailer?.lost, DEFAULT_TRAILER.lost);
  assert.equal(s.trailer?.exit_status, 0);
  assert.equal(s.trailer?.duration_ns, 5_000_000);
});

test("reads a JSON header that is not padded to 8 bytes", () => {
  const header = { ...DEFAULT_HEADER, mode: "sample!" };
  const bytes = fullStream(new StreamBuilder(header, 1, 0, false)).bytes();
  assert.notEqual((16 + JSON.stringify(header).length) % 8, 0);
  const s = decodeStream(bytes);
  assert.equal(s.header.info.mode, "sample!");
  assert.equal(s.count, 11);
  assert.deepEqual(s.errors, []);
});

test("reads Node Buffers at any byte offset (records copied once when not 4-aligned)", () => {
  const bytes = fullStream(new StreamBuilder({ ...DEFAULT_HEADER, mode: "odd" }, 1, 0, false)).bytes();
  for (const shift of [0, 1, 2, 3, 4]) {
    const pool = Buffer.alloc(bytes.length + shift);
    pool.set(bytes, shift);
    const buffer = pool.subarray(shift);
    const s = decodeStream(buffer);
    assert.equal(s.count, 11, `shift ${shift}`);
    assert.deepEqual([...s.tables.opBegin.ne], [4096, 7, -1, 1]);
    assert.equal(tensorName(s, "graphNode", 0), "ffn_out-0");
    const decoder = new StreamDecoder();
    const batches = [decoder.push(buffer.subarray(0, 333)), decoder.push(buffer.subarray(333))];
    assert.equal(batches[0].count + batches[1].count, 11);
    assert.equal(decoder.end(), false);
  }
});

test("a stream without trailer is truncated but keeps its records", () => {
  const s = decodeStream(new StreamBuilder().opBegin({ tid: 1, ts: 5, tensor: 1, op: 2 }).opEnd({ tid: 1, ts: 9, tensor: 1 }).bytes());
  assert.equal(s.truncated, true);
  assert.equal(s.trailer, undefined);
  assert.equal(s.tables.opBegin.count, 1);
  assert.equal(s.tables.opEnd.count, 1);
  assert.deepEqual(s.errors, []);
});

test("a stream cut inside a record keeps the records before it", () => {
  const whole = fullStream().bytes();
  const s = decodeStream(whole.subarray(0, whole.length - 300));
  assert.equal(s.truncated, true);
  assert.equal(s.tables.decodeBegin.count, 1);
  assert.equal(s.tables.graphBegin.count, 1);
  assert.match(s.errors.join("\n"), /ends inside a record/);
});

test("a trailer cut short makes the stream truncated", () => {
  const whole = fullStream().bytes();
  const s = decodeStream(whole.subarray(0, whole.length - 8));
  assert.equal(s.truncated, true);
  assert.equal(s.trailer, undefined);
  assert.equal(s.count, 11);
  assert.match(s.errors.join("\n"), /trailer .* cut short/);
});

for (const size of [0, 8, 20, 36]) {
  test(`a record of size ${size} stops decoding with a clear error`, () => {
    const b = new StreamBuilder().opEnd({ tid: 1, ts: 1, tensor: 1 });
    b.record(7, size, { tid: 1, ts: 2 }, () => {}, 32).opEnd({ tid: 1, ts: 3, tensor: 1 }).trailer();
    const s = decodeStream(b.bytes());
    assert.equal(s.truncated, true);
    assert.equal(s.tables.opEnd.count, 1);
    assert.match(s.errors[0], new RegExp(`size ${size} is not a multiple of 8 of at least 16`));
  });
}

test("a record whose size reaches beyond the end is a cut stream", () => {
  const b = new StreamBuilder().opEnd({ tid: 1, ts: 1, tensor: 1 }).record(7, 4096, { tid: 1, ts: 2 }, () => {}, 32);
  const s = decodeStream(b.bytes());
  assert.equal(s.truncated, true);
  assert.equal(s.tables.opEnd.count, 1);
  assert.match(s.errors.join(), /ends inside a record/);
});

test("reads major 2's OP_BEGIN (no name) and major 1's (a name appended, skipped)", () => {
  const b = new StreamBuilder(DEFAULT_HEADER, 2, 0)
    .opBegin({ tid: 1, ts: 10, tensor: 0x1000, ne: [4096, 7, 1, 1], op: OP.MUL_MAT, type: 2, ith: 1, cpu: 3, site: 5 })
    .opEnd({ tid: 1, ts: 20, tensor: 0x1000 })
    .opBegin({ tid: 1, ts: 30, tensor: 0x2000, op: OP.ADD, name: "named-0" })
    .trailer();
  const s = decodeStream(b.bytes());
  assert.deepEqual(s.errors, []);
  const o = s.tables.opBegin;
  assert.equal(o.count, 2);
  assert.deepEqual([o.tensor[0], o.op[0], o.type[0], o.ith[0], o.cpu[0], o.site[0], [...o.ne.subarray(0, 4)]], [0x1000, OP.MUL_MAT, 2, 1, 3, 5, [4096, 7, 1, 1]]);
  assert.deepEqual([o.tensor[1], o.op[1]], [0x2000, OP.ADD]);
  assert.deepEqual([s.tables.opEnd.count, s.tables.opEnd.ts[0]], [1, 20]);
});

test("refuses a newer major version", () => {
  assertFormatError(
    () => decodeStream(fullStream(new StreamBuilder(DEFAULT_HEADER, 3, 0)).bytes()),
    /^written by a newer ggml-lens: major 3 > supported 2; update ggml-lens$/,
  );
});

test("reads a newer minor version: unknown record types skipped, appended fields ignored", () => {
  const b = new StreamBuilder(DEFAULT_HEADER, 1, 7)
    .record(99, 48, { tid: 1, ts: 1 }, (v) => v.setUint32(16, 0xdeadbeef, true))
    .record(7, 64, { tid: 2, ts: 2 }, (v) => {
      v.setBigUint64(16, 0x42n, true);
      v.setBigUint64(56, 0xffffffffffffffffn, true);
    })
    .record(300, 16, { tid: 1, ts: 3 })
    .opEnd({ tid: 3, ts: 4, tensor: 0x43 })
    .trailer();
  const s = decodeStream(b.bytes());
  assert.equal(s.header.minor, 7);
  assert.deepEqual([...s.unknown], [[99, 1], [300, 1]]);
  assert.deepEqual([...s.tables.opEnd.tensor], [0x42, 0x43]);
  assert.deepEqual([...s.tables.opEnd.tid], [2, 3]);
  assert.equal(s.count, 4);
  assert.deepEqual(s.errors, []);
  assert.equal(s.truncated, false);
});

test("a known record smaller than its struct is skipped and reported", () => {
  const b = new StreamBuilder().record(6, 32, { tid: 1, ts: 1 }).opEnd({ tid: 1, ts: 2, tensor: 5 }).trailer();
  const s = decodeStream(b.bytes());
  assert.equal(s.tables.opBegin.count, 0);
  assert.equal(s.tables.opEnd.count, 1);
  assert.match(s.errors[0], /gl_op_begin of 32 bytes is smaller than its 88; skipped/);
});

test("clear errors for what is not a stream", () => {
  assertFormatError(() => decodeStream(new TextEncoder().encode("hello world, not a profile")), /not a ggml-lens profile/);
  assertFormatError(() => decodeStream(new Uint8Array(0)), /header needs 16 bytes/);
  assertFormatError(() => decodeStream(new TextEncoder().encode("GGMLLENS")), /header needs 16 bytes/);
  const badJson = new StreamBuilder().bytes();
  badJson[17] = 0x7b; // '{' where '"' was: {{...
  assertFormatError(() => decodeStream(badJson), /JSON header is not valid JSON/);
  assertFormatError(() => decodeStream(new StreamBuilder({ format: "other" }).bytes()), /header format is "other"/);
  assertFormatError(() => decodeStream(new StreamBuilder([1, 2]).bytes()), /not a JSON object/);
  const huge = new StreamBuilder().bytes();
  new DataView(huge.buffer).setUint32(12, MAX_JSON_BYTES + 1, true);
  assertFormatError(() => decodeStream(huge), /JSON length \d+ exceeds the limit/);
  const long = new StreamBuilder().bytes();
  new DataView(long.buffer).setUint32(12, 1 << 20, true);
  assertFormatError(() => decodeStream(long), /header needs 1048592 bytes/);
});

test("trailer problems are reported, not thrown", () => {
  const bad = new StreamBuilder().opEnd({ tid: 1, ts: 1, tensor: 1 }).record(12, 24, { tid: 0, ts: 2 }, (v, b) => {
    v.setUint32(16, 8, true);
    b.set(new TextEncoder().encode("{nojson}"), 24);
  }, 32);
  const s = decodeStream(bad.bytes());
  assert.equal(s.truncated, false);
  assert.equal(s.trailer, undefined);
  assert.match(s.errors[0], /trailer is not valid JSON/);

  const huge = new StreamBuilder().record(12, 24, { tid: 0, ts: 2 }, (v) => v.setUint32(16, 0xffffffff, true));
  assert.match(decodeStream(huge.bytes()).errors[0], /trailer JSON length 4294967295 exceeds the limit/);

  const extra = fullStream().bytes();
  const longer = new Uint8Array(extra.length + 16);
  longer.set(extra);
  assert.deepEqual(decodeStream(longer).errors, ["16 bytes after the trailer ignored"]);
});

test("errors are bounded", () => {
  const b = new StreamBuilder();
  for (let i = 0; i < 500; i++) b.record(6, 16, { tid: 1, ts: i });
  const s = decodeStream(b.trailer().bytes());
  assert.equal(s.errors.length, 51);
  assert.equal(s.errors[50], "... and 450 more errors");
});

function flatten(batches: RecordBatch[]): Record<string, number[]> {
  const out: Record<string, number[]> = { opBeginTensor: [], opEndTs: [], names: [], count: [] };
  for (const batch of batches) {
    out.opBeginTensor.push(...batch.tables.opBegin.tensor);
    out.opEndTs.push(...batch.tables.opEnd.ts);
    out.count.push(batch.count);
    for (let i = 0; i < batch.tables.graphNode.count; i++) out.names.push(tensorName(batch, "graphNode", i).length);
  }
  out.count = [out.count.reduce((a, b) => a + b, 0)];
  return out;
}

test("the incremental decoder gives the same records for any chunking", () => {
  const bytes = fullStream(manyOps(200)).bytes();
  const whole = decodeStream(bytes);
  for (const chunk of [1, 7, 64, 1000, bytes.length]) {
    const decoder = new StreamDecoder();
    const batches: RecordBatch[] = [];
    for (let at = 0; at < bytes.length; at += chunk) batches.push(decoder.push(bytes.subarray(at, at + chunk)));
    assert.equal(decoder.end(), false, `chunk ${chunk}`);
    assert.equal(decoder.done, true);
    assert.deepEqual(flatten(batches), flatten([whole]), `chunk ${chunk}`);
    assert.deepEqual(decoder.trailer?.lost, DEFAULT_TRAILER.lost);
    assert.equal(decoder.header?.info.mode, "full");
    assert.deepEqual(decoder.errors, []);
  }
});

test("the incremental decoder reports a cut stream and bad headers", () => {
  const bytes = manyOps(10).bytes();
  const decoder = new StreamDecoder();
  const batch = decoder.push(bytes.subarray(0, bytes.length - 3));
  assert.equal(batch.tables.opBegin.count, 10);
  assert.equal(batch.tables.opEnd.count, 9);
  assert.equal(decoder.end(), true);
  assert.match(decoder.errors[0], /ends inside a record/);
  assertFormatError(() => new StreamDecoder().push(new TextEncoder().encode("GGMLXX")), /not a ggml-lens profile/);
});

test("fuzz: 20k mutated streams never throw anything but ProfileFormatError, never hang", () => {
  const original = fullStream(manyOps(20)).bytes();
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let formatErrors = 0;
  const started = Date.now();
  for (let round = 0; round < 20000; round++) {
    const bytes = mutate(original, random);
    try {
      const s = decodeStream(bytes);
      assert.ok(s.errors.length <= 51);
      readAllColumns(s);
      const decoder = new StreamDecoder();
      decoder.push(bytes.subarray(0, bytes.length >> 1));
      decoder.push(bytes.subarray(bytes.length >> 1));
      decoder.end();
    } catch (err) {
      if (!(err instanceof ProfileFormatError)) throw err;
      formatErrors++;
    }
  }
  console.log(`fuzz: 20000 mutations, ${formatErrors} refused with ProfileFormatError, ${Date.now() - started} ms`);
});

function mutate(original: Uint8Array, random: (n: number) => number): Uint8Array {
  const kind = random(4);
  if (kind === 0) return original.subarray(0, random(original.length));
  const bytes = original.slice();
  const view = new DataView(bytes.buffer);
  const hits = 1 + random(4);
  for (let i = 0; i < hits; i++) {
    const at = random(bytes.length - 4);
    if (kind === 1) bytes[at] = random(256);
    else if (kind === 2) view.setUint16(at & ~7, random(65536), true);
    else view.setUint32(at, random(0x100000000), true);
  }
  return bytes;
}

/** Every column of every table, read (columns are read on first access). */
function readAllColumns(batch: RecordBatch): number {
  let n = 0;
  for (const name of TABLE_NAMES) {
    const table = batch.tables[name] as unknown as Record<string, ArrayLike<unknown>>;
    const fields = Object.entries(LAYOUTS[name].fields).filter(([, f]) => f.kind !== "char");
    for (const key of ["ts", "tid", ...fields.map(([key]) => key)]) n += table[key].length;
  }
  return n;
}

test("decode speed (printed, not asserted)", () => {
  const { bytes, events } = benchStream(1000);
  assert.equal(decodeStream(bytes).count, events);
  const framing = eventRate(events, () => decodeStream(bytes));
  const full = eventRate(events, () => readAllColumns(decodeStream(bytes)));
  console.log(
    `decode speed, ${events} events (${(bytes.length / 2 ** 20).toFixed(0)} MiB), best of 3 in CPU time: ` +
      `${framing} framing (columns read on access), ${full} with every column read`,
  );
});
