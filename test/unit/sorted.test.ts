import { test } from "node:test";
import assert from "node:assert/strict";
import { lastAtOrBefore, lastAtOrBeforeBy } from "../../extension/profile/sorted";

test("lastAtOrBefore: the last element at or before a value, -1 before the first, the last one past the end", () => {
  const starts = Float64Array.of(10, 20, 20, 30);
  assert.deepEqual([5, 10, 15, 20, 25, 30, 99].map((value) => lastAtOrBefore(starts, value)), [-1, 0, 0, 2, 2, 3, 3]);
  assert.equal(lastAtOrBefore([], 1), -1);
});

test("lastAtOrBefore within a range: an index in [from, to), from - 1 when none there", () => {
  const spans = [1, 5, 9, 2, 6, 10];
  assert.equal(lastAtOrBefore(spans, 7, 3, 6), 4);
  assert.equal(lastAtOrBefore(spans, 1, 3, 6), 2, "nothing in the range: from - 1");
  assert.equal(lastAtOrBefore(spans, 99, 0, 3), 2);
});

test("lastAtOrBeforeBy: the same over objects sorted by a key", () => {
  const spans = [{ startNs: 10 }, { startNs: 20 }, { startNs: 30 }];
  assert.deepEqual([5, 10, 25, 99].map((ns) => lastAtOrBeforeBy(spans, (s) => s.startNs, ns)), [-1, 0, 1, 2]);
});
