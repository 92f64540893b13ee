import { test } from "node:test";
import assert from "node:assert/strict";
import { diffProfiles, diffText, mannWhitneyP, type OpChange } from "../../extension/profile/diff";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { DEFAULT_HEADER, OP, StreamBuilder } from "./streamBuilder";

test("Mann-Whitney U: two-sided p with tie and continuity corrections, as computed by hand", () => {
  // U = 0, mean 12.5, variance 25 * 11 / 12, z = 12 / 4.787: p = erfc(z / sqrt 2) = 0.012186.
  assert.ok(Math.abs(mannWhitneyP([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) - 0.012186) < 1e-5);
  // Ties: ranks 1.5 1.5 4 4 7.5 | 4 7.5 7.5 7.5 10.5 10.5; U = 3.5, variance 30 / 12 * (12 - 84 / 110): p = 0.037016.
  assert.ok(Math.abs(mannWhitneyP([1, 1, 2, 2, 3], [2, 3, 3, 3, 4, 4]) - 0.037016) < 1e-5);
  assert.equal(mannWhitneyP([5, 5, 5], [5, 5, 5]), 1);
  assert.equal(mannWhitneyP([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), mannWhitneyP([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]), "two-sided");
});

interface RunSetup {
  tokens: number;
  mulMatNs: number;
  threads: string;
  model: string;
  weightType: number;
  buildId: string;
  softMax?: boolean;
  seed: number;
}

/** A run of `tokens` decode calls; each computes a graph of MUL_MAT (weights of `weightType`) and ADD on two threads, with jitter. */
function run(setup: RunSetup): Profile {
  const header = {
    ...DEFAULT_HEADER,
    target: { ...DEFAULT_HEADER.target, argv: ["llama-completion", "-m", setup.model, "-t", setup.threads, "-n", String(setup.tokens)] },
    libraries: [{ ...DEFAULT_HEADER.libraries[0], build_id: setup.buildId }],
  };
  const sig = 0xfeedn;
  const b = new StreamBuilder(header)
    .graphNode({ tid: 1, ts: 1, signature: sig, tensor: 0x10, index: 0, op: OP.MUL_MAT, src: [0x90, 0x91], name: "ffn_up-0" })
    .graphNode({ tid: 1, ts: 1, signature: sig, tensor: 0x20, index: 1, op: OP.ADD, src: [0x10, 0x91], name: "ffn_out-0" })
    .graphLeaf({ tid: 1, ts: 1, signature: sig, tensor: 0x90, type: setup.weightType, name: "blk.0.ffn_up.weight" })
    .graphLeaf({ tid: 1, ts: 1, signature: sig, tensor: 0x91, type: 0, name: "inp" });
  let state = setup.seed;
  const jitter = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) % 200) - 100;
  for (let i = 0; i < setup.tokens; i++) {
    const t = 1_000_000 + i * 100_000;
    b.decodeBegin({ tid: 1, ts: t, nTokens: 1 }).graphBegin({ tid: 1, ts: t + 100, signature: sig, nNodes: 2 });
    for (const tid of [1, 2]) {
      b.opBegin({ tid, ts: t + 1_000, tensor: 0x10, op: OP.MUL_MAT }).opEnd({ tid, ts: t + 1_000 + setup.mulMatNs + jitter(), tensor: 0x10 });
      b.opBegin({ tid, ts: t + 20_000, tensor: 0x20, op: OP.ADD }).opEnd({ tid, ts: t + 20_500 + jitter(), tensor: 0x20 });
      if (setup.softMax) b.opBegin({ tid, ts: t + 30_000, tensor: 0x30, op: OP.SOFT_MAX }).opEnd({ tid, ts: t + 30_300, tensor: 0x30 });
    }
    b.graphEnd({ tid: 1, ts: t + 50_000 }).decodeEnd({ tid: 1, ts: t + 60_000 });
  }
  return buildProfile(decodeStream(b.trailer().bytes()));
}

const BASE: RunSetup = { tokens: 30, mulMatNs: 10_000, threads: "2", model: "/m/a.gguf", weightType: 2, buildId: "aaaa", seed: 1 };

function op(changes: OpChange[], name: string): OpChange {
  const found = changes.find((c) => c.op === name);
  assert.ok(found, name);
  return found;
}

test("diff: a slower op is significant, an unchanged one is not, a new one is new; shares before and after", () => {
  const d = diffProfiles(run(BASE), run({ ...BASE, mulMatNs: 15_000, softMax: true, seed: 2 }));
  assert.deepEqual([d.token_unit, d.tokens], ["decode call", { before: 30, after: 30 }]);
  const mulMat = op(d.ops, "MUL_MAT");
  assert.ok(Math.abs((mulMat.ratio ?? 0) - 1.5) < 0.02, `ratio ${mulMat.ratio}`);
  assert.ok(mulMat.significant && (mulMat.p ?? 1) < 1e-6, `p ${mulMat.p}`);
  assert.ok(Math.abs(mulMat.before.per_token_median_ns - 20_000) < 200, "two threads' time per token");
  const add = op(d.ops, "ADD");
  assert.ok(!add.significant && (add.p ?? 0) > SIGNIFICANCE_FLOOR, `ADD p ${add.p}`);
  assert.ok(add.after.share < add.before.share, "ADD's share shrinks as MUL_MAT grows");
  const softMax = op(d.ops, "SOFT_MAX");
  assert.deepEqual([softMax.ratio, softMax.before.calls, softMax.after.calls, softMax.significant], [null, 0, 60, true]);
  assert.equal(d.ops[0].op, "MUL_MAT", "largest change first");
  assert.deepEqual(d.run.changed, [], "same setup");
});

/** Same distributions: p is uniform, so a bound this low fails about one seed in a thousand (the seeds are fixed). */
const SIGNIFICANCE_FLOOR = 0.001;

test("diff: what changed in the run: model, threads, weight types, builds", () => {
  const d = diffProfiles(run(BASE), run({ ...BASE, model: "/m/b.gguf", threads: "4", weightType: 1, buildId: "bbbb" }));
  const changed = Object.fromEntries(d.run.changed.map((c) => [c.what, [c.before, c.after]]));
  assert.deepEqual(changed.model, ["/m/a.gguf", "/m/b.gguf"]);
  assert.deepEqual(changed.threads_option, ["2", "4"]);
  assert.deepEqual(changed.weight_types, [{ q4_0: 1 }, { f16: 1 }]);
  assert.deepEqual(changed.builds, [{ "libggml-cpu.so": "aaaa" }, { "libggml-cpu.so": "bbbb" }]);
  assert.ok(changed.command);
  const text = diffText("a.ggmlprof", "b.ggmlprof", d);
  assert.match(text, /model +\/m\/a\.gguf -> \/m\/b\.gguf/);
  assert.match(text, /weight_types +q4_0 1 -> f16 1/);
  assert.match(text, /^MUL_MAT +20\.\d +20\.\d +[+-]\d+\.\d% +\d+\.\d +\d+\.\d +\d\.\d{3}$/m);
});

test("diff: too few tokens for a test gives no p, and says so in the text", () => {
  const d = diffProfiles(run({ ...BASE, tokens: 3 }), run({ ...BASE, tokens: 3, mulMatNs: 30_000 }));
  assert.deepEqual(d.ops.map((c) => [c.op, c.p, c.significant]), [["MUL_MAT", null, false], ["ADD", null, false]]);
  assert.match(diffText("a", "b", d), /^MUL_MAT +20\.\d +60\.\d +\+\d+\.\d% .* -$/m);
});
