import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeStream, LAYOUTS, readColumns, readRowsInto, TABLE_NAMES, type RecordTables } from "../../extension/profile/stream";
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

test("readRowsInto copies a block of rows of a column, read from the bytes or from a column already read", () => {
  const bytes = mixedStream(700);
  const fresh = decodeStream(bytes).tables.opBegin;
  const whole = decodeStream(bytes).tables.opBegin;
  const blocks: [number, number][] = [[0, 256], [256, 512], [512, 700], [699, 700], [5, 5]];
  for (const [from, to] of blocks) {
    const ts = new Float64Array(256);
    readRowsInto(fresh, "ts", from, to, ts);
    assert.deepEqual(Array.from(ts.subarray(0, to - from)), Array.from(whole.ts.subarray(from, to)), `ts ${from}-${to}`);
    const ne = new Float64Array(4 * 256);
    readRowsInto(fresh, "ne", from, to, ne);
    assert.deepEqual(Array.from(ne.subarray(0, 4 * (to - from))), Array.from(whole.ne.subarray(4 * from, 4 * to)), `ne ${from}-${to}`);
    const fromColumn = new Int32Array(256);
    readRowsInto(whole, "op", from, to, fromColumn);
    assert.deepEqual(Array.from(fromColumn.subarray(0, to - from)), Array.from(whole.op.subarray(from, to)), `op ${from}-${to}`);
  }
  assert.ok(!Object.hasOwn(fresh, "ts") && !Object.hasOwn(fresh, "ne"), "no column is kept");
  const table = { count: 2, offset: new Uint32Array(2), ts: Float64Array.of(5, 6) };
  const into = new Float64Array(2);
  readRowsInto(table, "ts", 1, 2, into);
  assert.deepEqual(Array.from(into), [6, 0]);
});
