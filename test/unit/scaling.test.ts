/**
 * Thread scaling on runs built record by record at 1, 2 and 4 threads: tokens/s from the decode
 * calls, saturation, and the op class that stops scaling; the command-line rewriting of -t.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultThreadCounts, parseScaleArgs, parseThreadList, ScaleArgsError, scaling, scalingText, withThreads, type ScaleRun } from "../../extension/profile/scaling";
import { add, balanced, matmul, profileOf, type TestCall } from "./decodeRuns";

/** Decode calls whose MUL_MAT takes `matmulNs` and ADD `addNs`; a call lasts their sum + 300 ns. */
function run(threads: number, matmulNs: number, addNs: number, calls = 5): ScaleRun {
  const decode = [matmul(0x300, 1), add(0x400, 1)];
  const list: TestCall[] = Array.from({ length: calls }, (_, k) => ({
    nTokens: 1,
    at: 1_000_000 * k,
    runs: [
      { tensor: 0x300, threads: balanced(0, matmulNs) },
      { tensor: 0x400, threads: balanced(matmulNs, addNs) },
    ],
  }));
  return { threads, file: `run-t${threads}.ggmlprof`, profile: profileOf([], decode, list) };
}

test("scaling: tokens/s per thread count from the decode calls, saturation, and the class that stops scaling", () => {
  // MUL_MAT halves from 1 to 2 threads and barely moves to 4; ADD never gets faster.
  const s = scaling([run(4, 28_000, 20_000), run(1, 60_000, 20_000), run(2, 30_000, 20_000)]);
  assert.deepEqual(s.threads, [1, 2, 4]);
  const rate = (ns: number): number => 1e9 / ns;
  assert.deepEqual(
    s.points.map((p) => [p.threads, p.decode_calls, p.decode_tokens]),
    [
      [1, 5, 5],
      [2, 5, 5],
      [4, 5, 5],
    ],
  );
  s.points.forEach((p, k) => assert.ok(Math.abs((p.decode_tokens_per_s as number) - rate([80_300, 50_300, 48_300][k])) < 1e-6));
  assert.ok(Math.abs((s.points[1].speedup as number) - 80_300 / 50_300) < 1e-12);
  assert.ok(Math.abs((s.points[2].efficiency as number) - 80_300 / 48_300 / 4) < 1e-12);
  assert.equal(s.saturates_at, 2, "4 threads gain 4% over 2, under 10% of the ideal doubling");
  const add = s.classes.find((c) => c.op === "ADD");
  const mm = s.classes.find((c) => c.op === "MUL_MAT");
  assert.ok(add && mm);
  assert.deepEqual(add.ms_per_call, [0.02, 0.02, 0.02]);
  assert.deepEqual([add.speedup, add.efficiency, add.stops_scaling], [1, 0.25, true]);
  assert.deepEqual(mm.ms_per_call.map((ms) => Math.round((ms as number) * 1e6)), [60_000, 30_000, 28_000]);
  assert.equal(mm.stops_scaling, false, `MUL_MAT efficiency ${mm.efficiency}`);
  const ids = s.findings.map((f) => f.id);
  assert.deepEqual(ids.sort(), ["scaling:tokens", `scaling:${add.class}`].sort());
  const text = scalingText(["llama-completion", "-t", "2"], s).join("\n");
  assert.match(text, /tokens\/s saturates at 2 threads/);
  assert.match(text, /ADD f32\[256\] = f32\[256\] · f32\[256\]\s+20\.0\s+20\.0\s+20\.0\s+1\.00\s+25%\s+stops scaling/);
});

test("scaling: a run that keeps gaining does not saturate, and nothing stops scaling", () => {
  const s = scaling([run(1, 60_000, 20_000), run(2, 30_000, 10_000)]);
  assert.equal(s.saturates_at, null);
  assert.deepEqual(s.classes.map((c) => c.stops_scaling), [false, false]);
  assert.match(s.findings[0].title, /^decode still scales at 2 threads/);
});

test("withThreads: sets -t, --threads, -tb and --threads=N to the count, or adds -t", () => {
  assert.deepEqual(withThreads(["llama-completion", "-m", "m.gguf", "-t", "8", "-n", "4"], 2), ["llama-completion", "-m", "m.gguf", "-t", "2", "-n", "4"]);
  assert.deepEqual(withThreads(["llama-bench", "--threads=8", "-tb", "8"], 1), ["llama-bench", "--threads=1", "-tb", "1"]);
  assert.deepEqual(withThreads(["llama-completion", "-m", "m.gguf"], 4), ["llama-completion", "-m", "m.gguf", "-t", "4"]);
  assert.throws(() => withThreads(["llama-completion", "-t"], 2), /-t in the command has no value/);
});

test("scale arguments: thread lists, record options passed through, clear errors", () => {
  assert.deepEqual(parseThreadList("4,1,2,2"), [1, 2, 4]);
  assert.throws(() => parseThreadList("1,two"), ScaleArgsError);
  assert.throws(() => parseThreadList("2"), /at least two thread counts/);
  assert.deepEqual(defaultThreadCounts(2), [1, 2]);
  assert.deepEqual(defaultThreadCounts(6), [1, 2, 4, 6]);
  const plan = parseScaleArgs(["--threads", "1,2", "--sample-hz", "0", "--json", "--", "llama-completion", "-t", "2"], 8, "p");
  assert.deepEqual(plan, { threads: [1, 2], json: true, prefix: "p", recordOptions: ["--mode", "full", "--sample-hz", "0"], command: ["llama-completion", "-t", "2"] });
  assert.deepEqual(parseScaleArgs(["--mode=default", "--out-prefix", "x", "--", "c"], 1, "p").recordOptions, ["--mode", "default"]);
  assert.throws(() => parseScaleArgs(["--out", "f", "--", "c"], 2, "p"), /--out does not apply \(use --out-prefix\)/);
  assert.throws(() => parseScaleArgs(["--threads", "1,2"], 2, "p"), /scale needs a command after --/);
});
