// The roofline panel's data: op classes of the whole run and of each phase (prefill, decode).
import { test } from "node:test";
import assert from "node:assert/strict";
import { rooflineData } from "../../extension/views/rooflineData";
import type { RooflinePoint } from "../../webview/protocol";
import { add, balanced, ceilings, matmul, profileOf, type TestCall } from "./decodeRuns";

/** One prompt of 8 tokens, then three generated tokens: the same matmul weights on 8 and on 1 token. */
function promptThenTokens(): ReturnType<typeof profileOf> {
  const calls: TestCall[] = [{ nTokens: 8, at: 0, runs: [{ tensor: 0x100, threads: balanced(0, 40_000) }, { tensor: 0x200, threads: balanced(40_000, 10_000) }] }];
  for (let k = 0; k < 3; k++) calls.push({ nTokens: 1, at: 100_000 * (k + 1), runs: [{ tensor: 0x300, threads: balanced(0, 5_000) }, { tensor: 0x400, threads: balanced(5_000, 30_000) }] });
  return profileOf([matmul(0x100, 8), add(0x200, 8)], [matmul(0x300, 1), add(0x400, 1)], calls);
}

function pointOf(points: RooflinePoint[], op: string): RooflinePoint {
  const found = points.find((p) => p.op === op);
  assert.ok(found, `${op} among ${points.map((p) => p.label).join("; ")}`);
  return found;
}

test("roofline data: all calls, and the prefill and decode phases apart", () => {
  const data = rooflineData(promptThenTokens(), "run.ggmlprof", ceilings());
  const { all, prefill, decode } = data.phases;
  assert.deepEqual([all.calls, prefill.calls, decode.calls], [4, 1, 3]);
  assert.deepEqual([all.empty, prefill.empty, decode.empty], [null, null, null]);
  // Every span began inside a call: the phases split the run's op time between them.
  const total = (points: RooflinePoint[]): number => points.reduce((sum, p) => sum + p.totalNs, 0);
  assert.equal(total(prefill.points) + total(decode.points), total(all.points));
  // The prompt's matmul reads the weights once for 8 tokens: 8 times the decode matmul's intensity, about.
  const ratio = pointOf(prefill.points, "MUL_MAT").intensity / pointOf(decode.points, "MUL_MAT").intensity;
  assert.ok(ratio > 4 && ratio < 9, `prefill / decode MUL_MAT intensity: ${ratio}`);
  assert.equal(pointOf(prefill.points, "MUL_MAT").totalNs, 2 * 40_000);
  assert.equal(pointOf(decode.points, "ADD").totalNs, 3 * 2 * 30_000);
  assert.equal(data.ceilings.length, 1 + ceilings().bandwidth_gbps.length);
});

test("roofline data: a phase without calls says so, the others are drawn", () => {
  const calls: TestCall[] = [0, 1].map((k) => ({ nTokens: 1, at: 100_000 * k, runs: [{ tensor: 0x300, threads: balanced(0, 5_000) }] }));
  const data = rooflineData(profileOf([], [matmul(0x300, 1)], calls), "run.ggmlprof", null);
  assert.equal(data.phases.prefill.points.length, 0);
  assert.match(data.phases.prefill.empty ?? "", /^No prefill calls: no llama_decode call of more than one token/);
  assert.equal(data.phases.decode.points.length, 1);
  assert.deepEqual(data.phases.decode.points, data.phases.all.points);
  assert.equal(data.ceilings.length, 0);
  assert.match(data.notes[0], /run `ggml-lens machine`/);
});
