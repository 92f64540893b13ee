import { test } from "node:test";
import assert from "node:assert/strict";
import { windowCostMs, windowExcess, windowIntervals } from "../../scripts/bench/windows";

const MS = 1e6;

/** Back-to-back calls of the given durations (ms), starting at 0. */
function callsOf(durationsMs: number[]): Array<{ startNs: number; endNs: number }> {
  let t = 0;
  return durationsMs.map((d) => {
    const call = { startNs: t, endNs: t + d * MS };
    t = call.endNs;
    return call;
  });
}

test("window intervals pair each opening with the next closing, and drop one left open", () => {
  const windows = { count: 5, ts: new Float64Array([10, 20, 30, 40, 50]), on: new Uint8Array([1, 0, 1, 0, 1]) };
  assert.deepEqual(windowIntervals({ windows } as never), [[10, 20], [30, 40]]);
});

test("a window's cost: the calls before, during and after it against their untraced neighbours", () => {
  // call 10 is traced (+4 ms), the calls either side of it carry the attach (+3) and the detach (+2)
  const durations = [20, 21, 20, 22, 20, 20, 20, 21, 20, 23, 24, 22, 20, 21, 20, 20, 20, 21, 20, 20];
  const calls = callsOf(durations);
  const window: [number, number] = [calls[10].startNs + 1, calls[10].endNs - 1];
  const measured = windowExcess(calls, [window]);
  // neighbours: calls 8..5 before (20, 21, 20, 20) and 12..15 after (20, 21, 20, 20): median 20
  assert.deepEqual(measured, [{ before: 3, traced: [4], after: 2 }]);
  assert.equal(windowCostMs(measured, 1), 9);
  assert.equal(windowCostMs(measured, 2), 13, "a window of two traced calls: each at the traced calls' median");
});

test("windows at either end of the run, without neighbours on both sides, are left out", () => {
  const calls = callsOf(new Array(12).fill(20));
  const first: [number, number] = [calls[0].startNs, calls[0].endNs];
  const last: [number, number] = [calls[11].startNs, calls[11].endNs];
  const early: [number, number] = [calls[1].startNs + 1, calls[1].endNs - 1];
  assert.deepEqual(windowExcess(calls, [first, last]), []);
  assert.deepEqual(windowExcess(calls, [early]), [], "no untraced call before the one that attached");
});
