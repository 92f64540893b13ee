import { test } from "node:test";
import assert from "node:assert/strict";
import { offAfterRatios, onOffRatios, summarize, tokenRate, type AlternationResult, type Phase } from "../../scripts/bench/alternation";
import { bootstrapInterval } from "../../scripts/bench/stats";

const S = 1e9;

test("token rate: tokens after the first over the time from the first to the last, inside the span only", () => {
  const stamps = [0, 0.5, 1, 1.5, 2, 2.5, 3].map((t) => t * S);
  assert.deepEqual(tokenRate(stamps, 0.9 * S, 2.6 * S), { tokens: 4, tokS: 2 });
  assert.deepEqual(tokenRate(stamps, 4 * S, 5 * S), { tokens: 0, tokS: undefined });
});

const phase = (kind: Phase["kind"], tokS: number): Phase => ({ kind, fromNs: 0, toNs: 0, tokens: 1, tokS });

test("each on phase against the mean of the off phases either side of it, by kind", () => {
  const phases = [phase("off", 50), phase("default", 48), phase("off", 46), phase("stand-in", 48), phase("off", 48), phase("default", 40)];
  assert.deepEqual(onOffRatios(phases, "default"), [1]); // the last default phase has no off phase after it
  assert.deepEqual(onOffRatios(phases, "stand-in"), [48 / 47]);
  phases[1].attachTokS = 45;
  assert.deepEqual(onOffRatios(phases, "default", (p) => p.attachTokS), [45 / 48]);
});

test("the slowdown is default mode's median ratio against the stand-in's, inside its bootstrap interval", () => {
  const a: AlternationResult = { onSeconds: 10, offSeconds: 8, args: [], phases: [],
    ratios: { default: [0.98, 1.0, 0.99, 0.97, 0.99], standIn: [1.01, 1.02, 1.0, 1.01, 1.01] } };
  const s = summarize(a);
  assert.ok(Math.abs((s.slowdownPct as number) - (1 - 0.99 / 1.01) * 100) < 1e-9);
  assert.ok(Math.abs((s.ownOffPct as number) - 1) < 1e-9);
  const [lo, hi] = s.slowdownInterval as [number, number];
  assert.ok(lo <= s.slowdownPct! && s.slowdownPct! <= hi, `interval ${lo} to ${hi}`);
  assert.deepEqual(summarize(a).slowdownInterval, s.slowdownInterval, "the same numbers give the same interval");
});

test("off phases after each kind, against the off phases two phases either side", () => {
  const phases = [phase("off", 50), phase("default", 48), phase("off", 45), phase("stand-in", 50), phase("off", 50),
    phase("default", 48), phase("off", 45), phase("stand-in", 50), phase("off", 50)];
  const r = offAfterRatios(phases);
  assert.deepEqual(r, { default: [45 / 50, 45 / 50], standIn: [50 / 45] });
  assert.ok(Math.abs((summarize({ onSeconds: 10, offSeconds: 8, args: [], phases, ratios: { default: [], standIn: [] } }).aftermathPct as number) -
    (1 - 45 / 50 / (50 / 45)) * 100) < 1e-9);
});

test("no interval from fewer than two values a list", () => {
  assert.equal(bootstrapInterval([[1], [1, 2]], (x) => x[0]), undefined);
});
