import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, laneOf, percentile, percentilesOf, selectRank } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { OP, StreamBuilder } from "./streamBuilder";

function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => (state = (state * 48271) % 2147483647) % n;
}

const QS = [0.01, 0.5, 0.9, 0.99, 1];

test("selectRank and percentilesOf give what a full sort gives, on random, tied, sorted and reversed values", () => {
  const next = random(11);
  const inputs: number[][] = [
    [],
    [42],
    [3, 1, 2],
    Array.from({ length: 1000 }, () => next(1_000_000)),
    Array.from({ length: 1000 }, () => next(3)),
    Array.from({ length: 777 }, (_, i) => i),
    Array.from({ length: 777 }, (_, i) => 777 - i),
    Array.from({ length: 500 }, () => 7),
    Array.from({ length: 999 }, (_, i) => (i % 2 ? i : -i)),
  ];
  for (const values of inputs) {
    const sorted = Float64Array.from(values).sort();
    const expected = QS.map((q) => percentile(sorted, q));
    assert.deepEqual(percentilesOf(Float64Array.from(values), QS), expected, `n=${values.length}`);
    for (const k of [0, values.length >> 1, values.length - 1]) {
      if (k >= 0 && values.length) assert.equal(selectRank(Float64Array.from(values), k), sorted[k]);
    }
  }
});

test("selectRank falls back to sorting what is left when partitioning takes too many rounds", () => {
  const next = random(3);
  const values = Float64Array.from({ length: 2000 }, () => next(500));
  const sorted = values.slice().sort();
  for (const rounds of [0, 1, 2]) {
    for (const k of [0, 999, 1999]) {
      const work = values.slice();
      assert.equal(selectRank(work, k, 0, rounds), sorted[k], `rounds ${rounds}, k ${k}`);
      assert.ok(work.subarray(0, k).every((v) => v <= work[k]) && work.subarray(k).every((v) => v >= work[k]), "partitioned around k");
    }
  }
});

/** Spans as an independent, naive reading of the pairing rules: per thread, a begin is closed by the next end or begin. */
function naiveSpans(records: { kind: "b" | "e"; tid: number; ts: number }[]): [number, number, number, number][] {
  const open = new Map<number, number>();
  const spans: [number, number, number, number][] = [];
  for (const r of records) {
    const start = open.get(r.tid);
    if (r.kind === "b") {
      if (start !== undefined) spans.push([r.tid, start, r.ts, 1]);
      open.set(r.tid, r.ts);
    } else if (start !== undefined) {
      spans.push([r.tid, start, r.ts, 0]);
      open.delete(r.tid);
    }
  }
  return spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

test("spans on many threads (ids not in order of appearance) match a naive pairing, grouped by thread id", () => {
  const next = random(5);
  const tids = [900, 17, 4_000_000, 3, 250, 251, 12, 77, 5000, 1, 64, 2];
  const records: { kind: "b" | "e"; tid: number; ts: number }[] = [];
  const b = new StreamBuilder();
  for (let i = 0; i < 5000; i++) {
    const tid = tids[next(tids.length)];
    const kind = next(5) < 3 ? "b" : "e";
    const ts = 1000 + i * 10;
    records.push({ kind, tid, ts });
    if (kind === "b") b.opBegin({ tid, ts, tensor: i, op: next(7) });
    else b.opEnd({ tid, ts, tensor: i });
  }
  const p = buildProfile(decodeStream(b.trailer().bytes()));
  const spans = Array.from({ length: p.spans.count }, (_, s) => [laneOf(p.threads, s)?.tid, p.spans.startNs[s], p.spans.endNs[s], p.spans.endRow[s] < 0 ? 1 : 0]);
  assert.deepEqual(spans, naiveSpans(records));
  assert.deepEqual(
    p.threads.map((l) => l.tid),
    [...new Set(spans.map((s) => s[0]))].sort((x, y) => x - y),
  );
  assert.equal(p.ops.reduce((n, s) => n + s.calls, 0), p.spans.count);
});

test("per-op percentiles match a sort of each op's durations", () => {
  const next = random(9);
  const names = ["ADD", "MUL", "MUL_MAT"];
  const durations = new Map<string, number[]>(names.map((name) => [name, []]));
  const b = new StreamBuilder();
  for (let i = 0; i < 3000; i++) {
    const name = names[next(3)];
    const d = 1 + next(name === "MUL_MAT" ? 100_000 : 50);
    const tid = 1 + next(2);
    b.opBegin({ tid, ts: i * 1e6, tensor: i, op: OP[name as keyof typeof OP] }).opEnd({ tid, ts: i * 1e6 + d, tensor: i });
    durations.get(name)?.push(d);
  }
  const p = buildProfile(decodeStream(b.trailer().bytes()));
  for (const [name, list] of durations) {
    const stat = p.ops.find((s) => s.op === name);
    const sorted = Float64Array.from(list).sort();
    assert.deepEqual([stat?.calls, stat?.p50_ns, stat?.p99_ns], [list.length, percentile(sorted, 0.5), percentile(sorted, 0.99)], name);
  }
});

test("per-op totals and percentiles stay exact for durations that do not fit 32 bits (over 4.3 s, or negative)", () => {
  const durations = [5, 2 ** 33 + 1, -7, 12, 2 ** 32];
  const b = new StreamBuilder();
  durations.forEach((d, i) => {
    const ts = 2 ** 40 + i * 2 ** 35;
    b.opBegin({ tid: 1, ts, tensor: i, op: OP.ADD }).opEnd({ tid: 1, ts: ts + d, tensor: i });
  });
  const add = buildProfile(decodeStream(b.trailer().bytes())).ops[0];
  const sorted = Float64Array.from(durations).sort();
  assert.deepEqual(
    [add.calls, add.total_ns, add.p50_ns, add.p99_ns],
    [5, durations.reduce((x, y) => x + y, 0), percentile(sorted, 0.5), percentile(sorted, 0.99)],
  );
});

test("percentilesOf reads 32-bit durations too", () => {
  const next = random(17);
  const values = Array.from({ length: 3000 }, () => next(4_000_000_000));
  const sorted = Float64Array.from(values).sort();
  assert.deepEqual(percentilesOf(Uint32Array.from(values), QS), QS.map((q) => percentile(sorted, q)));
});
