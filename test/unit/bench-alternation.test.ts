import { test } from "node:test";
import assert from "node:assert/strict";
import { onOffRatios, summarize, tokenRate, type AlternationResult, type Phase } from "../../scripts/bench/alternation";
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

test("the slowdown is one minus the median ratio, inside its bootstrap interval; the stand-in's is the method's error", () => {
  const a: AlternationResult = { onSeconds: 10, offSeconds: 8, args: [], phases: [],
    ratios: { default: [0.97, 0.99, 0.98, 0.96, 0.98], standIn: [1.0, 1.01, 0.99, 1.0, 1.0] } };
  const s = summarize(a);
  assert.ok(Math.abs((s.slowdownPct as number) - 2) < 1e-9);
  const [lo, hi] = s.slowdownInterval as [number, number];
  assert.ok(lo <= 2 && 2 <= hi && lo > 0, `interval ${lo} to ${hi}`);
  assert.ok(Math.abs(s.standInSlowdownPct as number) < 1e-9);
  const [slo, shi] = s.standInInterval as [number, number];
  assert.ok(slo < 0 && shi > 0, `the stand-in's interval ${slo} to ${shi} holds zero`);
  assert.deepEqual(summarize(a).slowdownInterval, s.slowdownInterval, "the same numbers give the same interval");
});

test("no interval from fewer than two values a list", () => {
  assert.equal(bootstrapInterval([[1], [1, 2]], (x) => x[0]), undefined);
});
