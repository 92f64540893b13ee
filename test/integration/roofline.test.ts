/**
 * The roofline analysis on a real recording: ggml-lens-probe records the tiny dense model in full
 * mode, and the analysis (and `ggml-lens report`) must account for every span, with MUL_MAT FLOPs
 * and bytes equal to what the formulas give for the shapes and types the profile recorded. Needs root.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { cacheFile } from "../../extension/profile/machine";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { analyze, type OpClass } from "../../extension/profile/roofline";
import { decodeStream } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";
import { ceilings as testCeilings } from "../unit/decodeRuns";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-roofline-"));
const isRoot = process.getuid?.() === 0;

function recordDense(): { file: string; profile: Profile } {
  const file = path.join(work, "dense-full.stream");
  const command = [fixtures.llamaCompletion ?? "", "-m", fixtures.models?.tinyDense ?? "", "-p", "The quick brown fox", "-n", "8",
    "-no-cnv", "--temp", "0", "-t", "2", "--no-warmup"];
  const run = spawnSync(probe, ["--mode", "full", "--sample-hz", "0", "--out", file, "--", ...command], { encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  return { file, profile: buildProfile(decodeStream(new Uint8Array(fs.readFileSync(file)))) };
}

/** Bytes of a tensor by the profile's type traits, computed here apart from the cost model. */
function bytesByHand(p: Profile, type: string, ne: number[]): number {
  const traits = p.header.types.find((t) => t.name === type && t.blck_size > 0);
  assert.ok(traits, `type ${type} in the profile's type table`);
  return (ne[0] / traits.blck_size) * traits.type_size * ne[1] * ne[2] * ne[3];
}

/** 2*K*M*N over every MUL_MAT node of every graph run, from the structures and their weight leaves. */
function mulMatFlopsOfRun(p: Profile): number {
  let flops = 0;
  for (const g of p.graphs) {
    for (const node of p.structures.get(g.signature) ?? []) {
      if (node.op !== "MUL_MAT") continue;
      const weight = p.leaves.get(g.signature)?.get(node.src[0]);
      assert.ok(weight, `${node.name}: its weight is a recorded leaf`);
      flops += 2 * weight.ne[0] * node.ne[0] * node.ne[1] * node.ne[2] * node.ne[3];
    }
  }
  return flops;
}


test("roofline on a real recording", { skip: !isRoot && "needs root (eBPF)" }, async (t) => {
  const { file, profile: p } = recordDense();
  const analysis = analyze(p, testCeilings());

  await t.test("every span lands in a class of a recorded graph node", () => {
    assert.equal(analysis.classes.reduce((n, c) => n + c.calls, 0), p.spans.count);
    assert.deepEqual(analysis.classes.filter((c) => /no graph structure/.test(c.shape)).map((c) => c.key), []);
    assert.ok(Math.abs(analysis.classes.reduce((n, c) => n + c.share, 0) - 1) < 1e-9);
    assert.deepEqual(analysis.ops.map((o) => [o.op, o.calls]), p.ops.map((o) => [o.op, o.calls]));
    const verdicts = new Set(["memory-bound", "compute-bound", "neither", "unknown"]);
    assert.ok(analysis.classes.every((c) => verdicts.has(c.bound.verdict)));
  });

  await t.test("MUL_MAT classes: FLOPs and bytes by hand from the recorded shapes and types", () => {
    const matmuls = analysis.classes.filter((c) => c.op === "MUL_MAT");
    assert.ok(matmuls.length >= 4, "projections, FFN and output, prefill and decode");
    for (const c of matmuls) checkMulMat(p, c);
    const perOp = analysis.ops.find((o) => o.op === "MUL_MAT");
    assert.equal(perOp?.total_flops, mulMatFlopsOfRun(p), "the rollup's FLOPs over every MUL_MAT node of every graph run");
    assert.ok(matmuls.some((c) => c.ne[1] > 1) && matmuls.some((c) => c.ne[1] === 1), "prefill and decode are apart");
    for (const c of matmuls.filter((m) => m.conversion)) {
      assert.equal(c.conversion?.source, "profile", "the target's vec_dot_type, from its type_traits_cpu");
      const q4 = p.header.types.findIndex((t) => t.name === c.conversion?.from);
      assert.ok(q4 < 0 || c.conversion?.to !== c.conversion?.from);
    }
  });

  await t.test("report --json carries classes, per-op rates and the ceilings used; the text has a bound column", () => {
    const cache = path.join(work, "cache");
    fs.mkdirSync(cache, { recursive: true });
    const env = { ...process.env, GGML_LENS_CACHE: cache };
    fs.writeFileSync(cacheFile(cache), JSON.stringify(testCeilings()));
    const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "extension/cli.ts"), ...args], { encoding: "utf8", env, cwd: repo });
    const json = cli(["report", file, "--json"]);
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { classes: OpClass[]; ops: { op: string; gflops: number | null }[]; ceilings: { source: string }; assumptions: string[] };
    assert.equal(report.classes.length, analysis.classes.length);
    assert.match(report.ceilings.source, /cached in/);
    assert.ok((report.ops.find((o) => o.op === "MUL_MAT")?.gflops ?? 0) > 0);
    assert.match(report.assumptions.join("\n"), /first thread's start to the last thread's end/);
    const text = cli(["report", file]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^op +calls .*GFLOP\/s +GB\/s +bound$/m);
    assert.match(text.stdout, /ceilings +this machine's, cached in .*\n +peak 200 GFLOP\/s f32 \(2 threads, avx2\+fma\); GB\/s L1 400, L2 200, L3 80.0, DRAM 15.0/);
  });
});

function checkMulMat(p: Profile, c: OpClass): void {
  const [weight, activations] = c.sources;
  const [k, m] = weight.ne;
  assert.ok(p.header.types.some((t) => t.name === weight.type), `${c.key}: weight type from the profile`);
  assert.equal(activations.ne[0], k, `${c.key}: K`);
  assert.equal(c.ne[0], m, `${c.key}: M`);
  const n = c.ne[1] * c.ne[2] * c.ne[3];
  assert.equal(c.flops, 2 * k * m * n, c.key);
  assert.ok((c.flops ?? 0) > 0);
  const bytes = bytesByHand(p, weight.type, weight.ne) + bytesByHand(p, activations.type, activations.ne) + bytesByHand(p, c.type, c.ne);
  assert.equal(c.bytes, bytes, c.key);
  assert.ok((c.gflops ?? 0) > 0 && (c.gbps ?? 0) > 0, `${c.key}: rates`);
  if (weight.type !== activations.type) assert.ok(c.conversion, `${c.key}: src1 converted for the dot product`);
}
