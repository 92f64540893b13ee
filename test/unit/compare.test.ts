import { test } from "node:test";
import assert from "node:assert/strict";
import type { OpChange, Side } from "../../extension/profile/diff";
import { beforeAfter, changeKey, changeTitle, changeTooltip, opChanges, percentChange } from "../../extension/views/compareData";

function side(perTokenMeanNs: number): Side {
  return { total_ns: perTokenMeanNs * 10, share: 0.5, calls: 20, per_token_median_ns: perTokenMeanNs, per_token_mean_ns: perTokenMeanNs };
}

function change(before: number, after: number, p: number | null, significant: boolean, op = "MUL_MAT", fused = false): OpChange {
  return { op, fused, before: side(before), after: side(after), ratio: before === 0 ? null : after / before, p, significant };
}

test("percent changes: whole percents from 10% up, one decimal below, always signed", () => {
  assert.equal(percentChange(1.12), "+12%");
  assert.equal(percentChange(0.5), "-50%");
  assert.equal(percentChange(1.034), "+3.4%");
  assert.equal(percentChange(0.966), "-3.4%");
  assert.equal(percentChange(1), "+0.0%");
  assert.equal(percentChange(0.9996), "-0.0%");
});

test("lens titles say the change against the baseline, and when the test finds it within noise", () => {
  assert.equal(changeTitle(change(40_000, 44_800, 0.001, true)), "+12% vs baseline");
  assert.equal(changeTitle(change(40_000, 40_400, 0.4, false)), "+1.0% vs baseline, within noise");
  assert.equal(changeTitle(change(40_000, 20_000, null, false)), "-50% vs baseline");
  assert.equal(changeTitle(change(0, 1_000, null, false)), "new vs baseline");
});

test("before → after per token, and the tooltip with the test's verdict", () => {
  assert.equal(beforeAfter(change(41_200, 46_100, 0.002, true), "decode call"), "41.2 µs → 46.1 µs per decode call (+12%)");
  assert.equal(beforeAfter(change(0, 1_500, null, false), "decode call"), "none → 1.50 µs per decode call (new)");
  assert.match(changeTooltip(change(41_200, 46_100, 0.0002, true), "decode call"), /p = <0\.001: a significant change/);
  assert.match(changeTooltip(change(41_200, 41_300, 0.31, false), "decode call"), /p = 0\.310: not significant at 0\.05/);
  assert.match(changeTooltip(change(41_200, 41_300, null, false), "decode call"), /too few tokens/);
});

test("changes are found by op and fused flag", () => {
  const plain = change(1, 2, null, false, "RMS_NORM", false);
  const fused = change(1, 3, null, false, "RMS_NORM+MUL", true);
  const changes = opChanges({ token_unit: "decode call", tokens: { before: 1, after: 1 }, run: { before: {} as never, after: {} as never, changed: [] }, ops: [plain, fused] });
  assert.equal(changes.unit, "decode call");
  assert.equal(changes.byOp.get(changeKey("RMS_NORM", false)), plain);
  assert.equal(changes.byOp.get(changeKey("RMS_NORM+MUL", true)), fused);
  assert.equal(changes.byOp.get(changeKey("RMS_NORM", true)), undefined);
});
