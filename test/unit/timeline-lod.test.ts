// Timeline level of detail, time scale, range table and filter (webview/timeline/*), in Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DrawList, filteredLane, gallopLowerBound, intervalAt, laneSource, layoutLane, lowerBound, upperBound, type LaneSource } from "../../webview/timeline/lod";
import { formatDuration, formatTick, niceStep, TimeScale } from "../../webview/timeline/scale";
import { rangeTable } from "../../webview/timeline/rangeTable";
import { spanFilter } from "../../webview/timeline/filter";

/** A deterministic pseudo-random lane of non-overlapping intervals. */
function randomLane(n: number, seed: number, minLength: number, maxLength: number, maxGap: number): LaneSource {
  let state = seed;
  const random = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const category = new Int32Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += random() * maxGap;
    start[i] = t;
    t += minLength + random() * (maxLength - minLength);
    end[i] = t;
    category[i] = Math.floor(random() * 5);
  }
  return laneSource(start, end, category);
}

/** Share of [from, to) covered by the lane's intervals, by brute force. */
function coverage(lane: LaneSource, from: number, to: number): number {
  let covered = 0;
  for (let i = 0; i < lane.count; i++) covered += Math.max(0, Math.min(lane.end[i], to) - Math.max(lane.start[i], from));
  return covered / (to - from);
}

test("binary searches find the first index at or after / after a value", () => {
  const a = [1, 2, 2, 2, 5, 9];
  assert.equal(lowerBound(a, 2), 1);
  assert.equal(upperBound(a, 2), 4);
  assert.equal(lowerBound(a, 0), 0);
  assert.equal(lowerBound(a, 10), 6);
  for (let lo = 0; lo < a.length; lo++) {
    for (const v of [0, 1, 2, 3, 5, 6, 9, 10]) assert.equal(gallopLowerBound(a, v, lo, a.length), lowerBound(a, v, lo, a.length), `gallop from ${lo} to ${v}`);
  }
});

test("wide intervals are drawn one by one at their pixel position, clipped to the view", () => {
  const lane = laneSource(Float64Array.from([0, 100, 300]), Float64Array.from([50, 250, 1000]), [0, 1, 2]);
  const out = new DrawList();
  layoutLane(lane, { t0: 25, t1: 425, width: 400 }, out);
  assert.equal(out.length, 3);
  assert.deepEqual(Array.from(out.x.subarray(0, 3)), [0, 75, 275]);
  assert.deepEqual(Array.from(out.w.subarray(0, 3)), [25, 150, 125]);
  assert.deepEqual(Array.from(out.row.subarray(0, 3)), [0, 1, 2]);
  assert.deepEqual(Array.from(out.alpha.subarray(0, 3)), [1, 1, 1]);
});

test("narrow intervals merge into one-pixel columns whose opacity is the exact share of time covered", () => {
  const lane = randomLane(20_000, 42, 1, 30, 40);
  const last = lane.end[lane.count - 1];
  // Every interval is narrower than a pixel in the first two views; the third mixes wide and narrow.
  for (const [t0, t1, width, allNarrow] of [
    [0, last, 300, true],
    [last * 0.25, last * 0.3, 800, true],
    [last * 0.5, last * 0.5 + 5000, 1000, false],
  ] as const) {
    const out = new DrawList();
    layoutLane(lane, { t0, t1, width }, out);
    const k = width / (t1 - t0);
    let merged = 0;
    for (let d = 0; d < out.length; d++) {
      if (out.row[d] >= 0) continue;
      merged++;
      const from = t0 + out.x[d] / k;
      const expected = Math.min(1, coverage(lane, from, from + 1 / k));
      const where = `column ${out.x[d]} of [${t0}, ${t1}]: ${out.alpha[d]} vs ${expected}`;
      // Where a wide interval ends inside the column, its part is drawn by its own rectangle.
      if (allNarrow) assert.ok(Math.abs(out.alpha[d] - expected) < 1e-6, where);
      else assert.ok(out.alpha[d] <= expected + 1e-6, where);
    }
    assert.ok(merged > 0, "some columns were merged");
    if (allNarrow) assert.ok(out.length <= width + 1, `at most one rectangle per column when all are narrow: ${out.length}`);
  }
});

test("a merged column takes the colour of the interval running at its middle", () => {
  // Column 0 covers [0, 10): [0,2) category 7, [3,6) category 8 (running at 5), [8,9) category 9.
  const lane = laneSource(Float64Array.from([0, 3, 8]), Float64Array.from([2, 6, 9]), [7, 8, 9]);
  const out = new DrawList();
  layoutLane(lane, { t0: 0, t1: 100, width: 10 }, out);
  assert.equal(out.length, 1);
  assert.equal(out.category[0], 8);
  assert.ok(Math.abs(out.alpha[0] - 0.6) < 1e-6, `opacity ${out.alpha[0]}`);
});

test("a million spans zoomed out give at most one rectangle per pixel column", () => {
  const lane = randomLane(1_000_000, 7, 1000, 20000, 500);
  const out = new DrawList();
  layoutLane(lane, { t0: 0, t1: lane.end[lane.count - 1], width: 1200 }, out);
  assert.ok(out.length <= 1200, `${out.length} rectangles`);
  const drawn = Array.from(out.alpha.subarray(0, out.length)).reduce((a, b) => a + b, 0) / 1200;
  assert.ok(Math.abs(drawn - coverage(lane, 0, lane.end[lane.count - 1])) < 0.01, "the drawn opacity adds up to the time covered");
});

test("intervalAt finds the interval under a time, or the nearest within the tolerance", () => {
  const lane = laneSource(Float64Array.from([0, 100, 300]), Float64Array.from([50, 250, 400]), [0, 1, 2]);
  assert.equal(intervalAt(lane, 120, 0), 1);
  assert.equal(intervalAt(lane, 270, 0), -1);
  assert.equal(intervalAt(lane, 270, 40), 1, "the nearer of the two neighbours");
  assert.equal(intervalAt(lane, 290, 40), 2);
  assert.equal(intervalAt(lane, 60, 20), 0);
  assert.equal(intervalAt(lane, 500, 50), -1);
  const odd = filteredLane(lane, (row) => row !== 1);
  assert.equal(odd.count, 2);
  assert.equal(intervalAt(odd, 350, 0), 2, "a filtered lane answers rows of the unfiltered table");
  const out = new DrawList();
  layoutLane(odd, { t0: 0, t1: 400, width: 400 }, out);
  assert.deepEqual(Array.from(out.row.subarray(0, out.length)), [0, 2]);
});

test("the time scale zooms around the pointer and never leaves the recorded range", () => {
  const scale = new TimeScale(0, 1e6, 1000);
  const anchor = scale.t(250);
  scale.zoomAt(250, 4);
  assert.ok(Math.abs(scale.t(250) - anchor) < 1e-6, "the time under the pointer stays put");
  assert.ok(Math.abs(scale.t1 - scale.t0 - 250_000) < 1e-6);
  scale.panBy(-1e6);
  assert.equal(scale.t0, 0);
  scale.panBy(1e9);
  assert.equal(scale.t1, 1e6);
  scale.zoomAt(500, 1e-3);
  assert.deepEqual([scale.t0, scale.t1], [0, 1e6], "zooming out stops at the whole range");
  scale.zoomAt(500, 1e9);
  assert.ok(scale.t1 - scale.t0 >= 100, "zooming in stops at 100 ns");
  scale.reset();
  const { step, times } = scale.ticks(100);
  assert.equal(step, 100_000);
  assert.deepEqual(times.slice(0, 3), [0, 100_000, 200_000]);
});

test("ticks use 1-2-5 steps and durations print with a unit", () => {
  assert.deepEqual([0.7, 1, 1.5, 3, 7, 12, 4500].map(niceStep), [1, 1, 2, 5, 10, 20, 5000]);
  assert.equal(formatDuration(850), "850 ns");
  assert.equal(formatDuration(12_500), "12.5 µs");
  assert.equal(formatDuration(3_200_000), "3.20 ms");
  assert.equal(formatDuration(1.5e9), "1.50 s");
  assert.deepEqual(
    [889_200_000, 889_400_000].map((t) => formatTick(t, 200_000)),
    ["889.2 ms", "889.4 ms"],
    "zoomed-in ticks keep the digits that tell them apart",
  );
  assert.equal(formatTick(2e9, 5e8), "2.0 s");
  assert.equal(formatTick(300, 100), "300 ns");
});

test("the range table sums the time of each op inside the range, over lanes", () => {
  const a = laneSource(Float64Array.from([0, 100, 200]), Float64Array.from([100, 200, 300]), [0, 1, 0]);
  const b = laneSource(Float64Array.from([50, 250]), Float64Array.from([150, 260]), [2, 1]);
  const rows = rangeTable([a, b], 50, 255);
  assert.deepEqual(
    rows.map((r) => [r.label, r.calls, r.totalNs]),
    [
      [1, 2, 105],
      [0, 2, 105],
      [2, 1, 100],
    ].sort((x, y) => y[2] - x[2] || x[0] - y[0]),
  );
  assert.ok(Math.abs(rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12);
  assert.deepEqual(rangeTable([a], 1000, 2000), []);
});

test("the filter matches ops exactly with op:, else op or tensor names by substring", () => {
  const labels = ["MUL", "MUL_MAT", "RMS_NORM+MUL", "ADD"];
  const names = ["attn_norm-0", "ffn_out-3", "Q-<img>"];
  const spans = { label: Uint16Array.from([0, 1, 2, 3, 3]), node: Int32Array.from([0, 1, -1, 2, -1]) };
  const kept = (query: string): number[] => {
    const f = spanFilter(query, labels, names, spans);
    return f ? [0, 1, 2, 3, 4].filter((row) => f.keep(row)) : [0, 1, 2, 3, 4];
  };
  assert.deepEqual(kept("op:MUL"), [0, 2]);
  assert.deepEqual(kept("op: mul_mat "), [1]);
  assert.deepEqual(kept("mul"), [0, 1, 2]);
  assert.deepEqual(kept("NORM"), [0, 2]);
  assert.deepEqual(kept("<img>"), [3]);
  assert.deepEqual(kept("   "), [0, 1, 2, 3, 4]);
  assert.deepEqual(kept("nothing"), []);
});
