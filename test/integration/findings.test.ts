/**
 * Findings and thread scaling on real recordings of the tiny synthetic models (needs root: eBPF):
 * the dense model in full mode (phases, attention per decode call), the MoE model (routing per
 * layer), `ggml-lens scale` at 1 and 2 threads, and cold weights: a running llama-server whose model
 * is paged out between requests (test/fixtures/page-out.c).
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
import { buildFixtureProgram } from "../harness/cPrograms";
import { completion as serverCompletion, exited, freePort, startHelper, startLlamaServer } from "../harness/llamaServer";

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

/** Major page faults of the whole process so far (/proc/PID/stat, field 12: all its threads). */
function processMajorFaults(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[9]);
}

/** Attaches the helper (full mode) to `pid` for one request; the process's own major-fault count over the request too. */
async function recordRequest(pid: number, name: string, request: () => Promise<unknown>): Promise<{ profile: Profile; processFaults: number }> {
  const file = path.join(work, `${name}.stream`);
  const helper = await startHelper(probe, ["--pid", String(pid), "--mode", "full", "--sample-hz", "0", "--out", file]);
  const before = processMajorFaults(pid);
  await request();
  const processFaults = processMajorFaults(pid) - before;
  helper.kill("SIGINT");
  await exited(helper);
  assert.equal(helper.exitCode, 0, `the helper attached to ${pid} ended cleanly`);
  return { profile: buildProfile(decodeStream(new Uint8Array(fs.readFileSync(file)))), processFaults };
}

function spanMajorFaults(profile: Profile): number {
  return opInstances(profile).reduce((n, i) => n + i.majorFaults, 0);
}

test("cold weights: a running llama-server's model paged out between requests", { skip: !isRoot && "needs root (eBPF, process_madvise)", timeout: 300_000 }, async (t) => {
  // A private copy, written back to disk: the kernel does not page out pages that other processes
  // map too (other runs of the same model), nor dirty ones.
  const model = path.join(work, "cold-weights.gguf");
  fs.copyFileSync(fixtures.models?.tinyDense ?? "", model);
  const fd = fs.openSync(model, "r+");
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const pageOut = buildFixtureProgram("page-out", work);
  const port = await freePort();
  const log = path.join(work, "server.log");
  const server = await startLlamaServer(fixtures.llamaServer ?? "", model, port, log);
  t.after(async () => {
    server.kill("SIGKILL");
    await exited(server);
  });
  const pid = server.pid!;
  const request = () => serverCompletion(port, "The quick brown fox", log, 8);
  await request(); // everything a request touches is in memory now

  const warm = await recordRequest(pid, "warm", request);
  assert.ok(warm.profile.spans.count > 0, "the warm request's ops were traced");
  assert.equal(spanMajorFaults(warm.profile), 0, "no op of a warm request reads its weights from disk");
  assert.deepEqual(findings(warm.profile, null).filter((f) => f.kind === "cold-weights"), [], "no cold-weights finding for a warm request");

  const paged = spawnSync(pageOut, [String(pid), model], { encoding: "utf8" });
  assert.equal(paged.status, 0, paged.stderr);
  const out = Object.fromEntries(paged.stdout.trim().split(" ").map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]));
  assert.ok(out.advised_bytes >= fs.statSync(model).size / 2, `the model's mappings were advised: ${paged.stdout}`);
  assert.ok(out.resident_kb_after < out.resident_kb_before / 2, `most of the model left memory: ${paged.stdout}`);

  const cold = await recordRequest(pid, "cold", request);
  const counted = spanMajorFaults(cold.profile);
  assert.ok(counted > 0, "ops of the request after the page-out took major faults");
  assert.ok(counted <= cold.processFaults, `the op spans' major faults (${counted}) are the process's own (${cold.processFaults})`);
  const found = findings(cold.profile, null).filter((f) => f.kind === "cold-weights");
  assert.ok(found.length > 0, "a cold-weights finding");
  assert.equal(found.reduce((n, f) => n + Number(f.numbers.major_faults), 0), counted, "every op run with major faults is in a finding");
  for (const f of found) t.diagnostic(`${f.title} (process: ${cold.processFaults} major faults)`);
});
