import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeStream, LAYOUTS, readColumns, recordFields, TABLE_NAMES, u64At, type RecordFields, type RecordTables } from "../../extension/profile/stream";
import { StreamBuilder } from "./streamBuilder";

/** A stream with every kind of column: u32, i32, u64, i64 arrays, h64, on more rows than one block. */
function mixedStream(rows: number): Uint8Array {
  const b = new StreamBuilder();
  for (let i = 0; i < rows; i++) {
    b.opBegin({ tid: 1 + (i % 5), ts: 1e12 + i * 7, tensor: 0x7f0000000000 + i * 64, tensor2: i % 3 ? 0 : 0x10 + i, ne: [i, -i, 2 ** 40 + i, -(2 ** 40)], op: i % 9, type: i % 4, ith: i % 2, flags: i % 2, name: `n${i}` });
    b.opEnd({ tid: 1 + (i % 5), ts: 1e12 + i * 7 + 3, tensor: 0x7f0000000000 + i * 64, minFlt: i, majFlt: i % 7, nvcsw: i % 5, nivcsw: i % 3, cpuNs: 2 ** 33 + i });
    if (i % 100 === 0) {
      b.graphNode({ tid: 1, ts: i, signature: 0xfedcba9876543210n + BigInt(i), tensor: 0x5000 + i, src: [1, 2, 3], ne: [4, -5, 6, 7], nb: [8, 9, 10, 11], index: i, op: 5 });
    }
  }
  return b.trailer().bytes();
}

function columnNames(name: keyof RecordTables): string[] {
  return ["ts", "tid", ...Object.entries(LAYOUTS[name].fields).filter(([, f]) => f.kind !== "char").map(([key]) => key)];
}

test("readColumns reads the same columns as first access does, over many blocks", () => {
  const bytes = mixedStream(3000);
  const lazy = decodeStream(bytes);
  const together = decodeStream(bytes);
  for (const name of TABLE_NAMES) {
    const names = columnNames(name);
    readColumns(together.tables[name], names as never[]);
    for (const key of names) {
      const own = Object.getOwnPropertyDescriptor(together.tables[name], key);
      assert.ok(own && "value" in own, `${name}.${key} is read and kept`);
      assert.deepEqual(own.value, (lazy.tables[name] as unknown as Record<string, unknown>)[key], `${name}.${key}`);
    }
  }
  assert.equal(together.tables.opBegin.count, 3000);
  assert.equal(together.tables.opEnd.cpuNs[2999], 2 ** 33 + 2999);
  assert.deepEqual(Array.from(together.tables.opBegin.ne.subarray(4 * 2999, 4 * 3000)), [2999, -2999, 2 ** 40 + 2999, -(2 ** 40)]);
});

test("readColumns leaves a column already read as it is, and reads only the columns named", () => {
  const stream = decodeStream(mixedStream(10));
  const ts = stream.tables.opBegin.ts;
  readColumns(stream.tables.opBegin, ["ts", "op"]);
  assert.equal(stream.tables.opBegin.ts, ts, "the same array");
  assert.ok(Object.hasOwn(stream.tables.opBegin, "op"));
  assert.ok(!Object.hasOwn(stream.tables.opBegin, "ne"), "a column not named is still read on first access only");
  assert.deepEqual(Array.from(stream.tables.opBegin.op), [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]);
});

test("readColumns ignores tables that are not read from a stream's bytes", () => {
  const table = { count: 1, offset: new Uint32Array(1), ts: Float64Array.of(5) };
  readColumns(table, ["ts"]);
  assert.deepEqual(table, { count: 1, offset: new Uint32Array(1), ts: Float64Array.of(5) });
});

test("recordFields reads scalar fields straight from a stream's records, and packs another table's columns", () => {
  const bytes = mixedStream(700);
  const fresh = decodeStream(bytes).tables.opBegin;
  const whole = decodeStream(bytes).tables.opBegin;
  const names = ["ts", "tid", "op", "flags", "tensor2"] as const;
  const fromBytes = recordFields(fresh, names);
  assert.equal(fromBytes.position, fresh.offset, "the records' own offsets");
  assert.ok(!Object.hasOwn(fresh, "ts") && !Object.hasOwn(fresh, "op"), "no column is made");
  const copy = { count: whole.count, ts: whole.ts, tid: whole.tid, op: Int32Array.from(whole.op, (v, i) => (i % 2 ? -v - 1 : v)), flags: whole.flags, tensor2: whole.tensor2 };
  const packed = recordFields(copy, names);
  const read = (f: RecordFields<(typeof names)[number]>, i: number) => {
    const w = f.position[i] >>> 2;
    const u64 = (at: number) => u64At(f.words, w + at);
    return [u64(f.at.ts), f.words[w + f.at.tid], f.words[w + f.at.op] | 0, f.words[w + f.at.flags], u64(f.at.tensor2)];
  };
  for (let i = 0; i < whole.count; i++) {
    assert.deepEqual(read(fromBytes, i), [whole.ts[i], whole.tid[i], whole.op[i], whole.flags[i], whole.tensor2[i]], `stream row ${i}`);
    assert.deepEqual(read(packed, i), [copy.ts[i], copy.tid[i], copy.op[i], copy.flags[i], copy.tensor2[i]], `packed row ${i}`);
  }
  assert.throws(() => recordFields(fresh, ["ne"]), /ne is not a scalar number field/);
});
