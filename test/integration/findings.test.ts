/**
 * Findings and thread scaling on real recordings of the tiny synthetic models (needs root: eBPF):
 * the dense model in full mode (phases, attention per decode call), the MoE model (routing per
 * layer), and `ggml-lens scale` at 1 and 2 threads.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { expertRouting, findings } from "../../extension/profile/findings";
import { loadProfile } from "../../extension/profile/file";
import { opInstances } from "../../extension/profile/instances";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { analyze } from "../../extension/profile/roofline";
import { decodeStream } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const cli = path.join(repo, "dist/cli.js");
const fixtures = recordedFixtures();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-findings-"));
const isRoot = process.getuid?.() === 0;

function completion(model: string, tokens: number): string[] {
  return [fixtures.llamaCompletion ?? "", "-m", model, "-p", "The quick brown fox", "-n", String(tokens), "-no-cnv", "--temp", "0", "-t", "2", "--no-warmup"];
}

function record(name: string, command: string[]): Profile {
  const file = path.join(work, `${name}.stream`);
  const run = spawnSync(probe, ["--mode", "full", "--sample-hz", "0", "--out", file, "--", ...command], { encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  return buildProfile(decodeStream(new Uint8Array(fs.readFileSync(file))));
}

test("findings on a real recording of the dense model", { skip: !isRoot && "needs root (eBPF)" }, () => {
  const profile = record("dense", completion(fixtures.models?.tinyDense ?? "", 16));
  const list = findings(profile, null);
  const classes = new Set(analyze(profile, null).classes.map((c) => c.key));
  for (const id of ["phase:prefill", "phase:decode"]) {
    const phase = list.find((f) => f.id === id);
    assert.ok(phase, `${id} in ${list.map((f) => f.id).join(", ")}`);
    const linked = phase.evidence.filter((e) => e.kind === "roofline");
    assert.ok(linked.length > 0 && linked.every((e) => e.kind === "roofline" && classes.has(e.class)), "each roofline link names a class of the run");
  }
  // Instances: every span of a recorded node is in one, and busy time is the spans' time.
  const instances = opInstances(profile);
  let spanNs = 0;
  for (let s = 0; s < profile.spans.count; s++) spanNs += profile.spans.endNs[s] - profile.spans.startNs[s];
  const busy = instances.reduce((n, i) => n + i.busyNs, 0);
  assert.ok(Math.abs(busy - spanNs) < 1e-6 * spanNs, `${busy} vs ${spanNs}`);
  assert.ok(instances.every((i) => i.threads <= profile.threads.length && i.waitNs >= 0));
  const attention = list.find((f) => f.kind === "attention-growth");
  assert.ok(attention, "attention ops found in the decode calls");
  assert.equal(attention.numbers.decode_calls, profile.tokens.decode.calls);
  for (const f of list) assert.ok(f.score >= 0 && f.score <= 1 && f.title.length > 0, f.id);
});

test("MoE routing per layer on a real recording of the MoE model", { skip: !isRoot && "needs root (eBPF)" }, () => {
  const profile = record("moe", completion(fixtures.models?.tinyMoe ?? "", 12));
  const routing = expertRouting(profile);
  assert.ok(routing.length > 0);
  for (const layer of routing) {
    assert.ok(layer.layer >= 0, layer.name);
    // Every pick recorded for the layer's tensor is counted once (the last layer routes only the tokens whose output is kept).
    const picks = profile.experts.filter((e) => e.tensor === layer.tensor).reduce((n, e) => n + e.ids.length, 0);
    assert.equal(layer.counts.reduce((a, b) => a + b, 0), picks, layer.name);
    assert.ok(picks >= 2 * profile.tokens.decode.calls, `${layer.name}: every decode call routed`);
  }
});

test("ggml-lens scale at 1 and 2 threads", { skip: !isRoot && "needs root (eBPF)" }, async () => {
  const prefix = path.join(work, "scale");
  const run = spawnSync(process.execPath, [cli, "scale", "--threads", "1,2", "--sample-hz", "0", "--json", "--out-prefix", prefix, "--", ...completion(fixtures.models?.tinyDense ?? "", 8)], {
    encoding: "utf8",
    timeout: 600_000,
  });
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { threads: number[]; points: { threads: number; decode_tokens_per_s: number; file: string }[]; classes: { ms_per_call: (number | null)[] }[]; findings: { id: string }[] };
  assert.deepEqual(result.threads, [1, 2]);
  for (const point of result.points) {
    assert.ok(point.decode_tokens_per_s > 0);
    const profile = await loadProfile(point.file);
    assert.deepEqual(profile.threads.length, point.threads, "the run used the thread count it was given");
  }
  assert.ok(result.classes.length > 0 && result.classes.every((c) => c.ms_per_call.length === 2));
  assert.ok(result.findings.some((f) => f.id === "scaling:tokens"));
  const usage = spawnSync(process.execPath, [cli, "scale", "--threads", "1", "--", "x"], { encoding: "utf8" });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^ggml-lens: --threads needs at least two thread counts to compare, not '1'\n$/);
});
