/**
 * Findings on streams built record by record: each test constructs the condition a finding is
 * about (a dominant op per phase, a thread finishing late, attention growing with the context,
 * skewed routing, a run with major page faults, an offload that did not pay off) and a control
 * where it is absent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Profile } from "../../extension/profile/model";
import { analyze } from "../../extension/profile/roofline";
import { findings, findingsText, fitLine, offloadFinding, severityOf, type Finding } from "../../extension/profile/findings";
import { opInstances, phaseProfile } from "../../extension/profile/instances";
import { OP, TYPE, add, balanced, ceilings, matmul, profileOf, type TestCall, type TestNode } from "./decodeRuns";

function byKind(list: Finding[], kind: Finding["kind"]): Finding[] {
  return list.filter((f) => f.kind === kind);
}

function one(list: Finding[], kind: Finding["kind"]): Finding {
  const found = byKind(list, kind);
  assert.equal(found.length, 1, `one ${kind} finding in: ${list.map((f) => f.title).join(" | ")}`);
  return found[0];
}

// ---- 1. phases ---------------------------------------------------------------------------

test("phase: the op class that dominates prefill and the one that dominates decode, with bound and distance to the roof", () => {
  // Prefill: the matmul takes 40 µs of 50; decode: the add takes 30 µs of 35.
  const prefill = [matmul(0x100, 8), add(0x200, 8)];
  const decode = [matmul(0x300, 1), add(0x400, 1)];
  const calls: TestCall[] = [{ nTokens: 8, at: 0, runs: [{ tensor: 0x100, threads: balanced(0, 40_000) }, { tensor: 0x200, threads: balanced(40_000, 10_000) }] }];
  for (let k = 0; k < 3; k++) calls.push({ nTokens: 1, at: 100_000 * (k + 1), runs: [{ tensor: 0x300, threads: balanced(0, 5_000) }, { tensor: 0x400, threads: balanced(5_000, 30_000) }] });
  const profile = profileOf(prefill, decode, calls);
  const list = findings(profile, ceilings());
  const phases = byKind(list, "phase");
  assert.deepEqual(phases.map((f) => f.id).sort(), ["phase:decode", "phase:prefill"]);
  const pre = phases.find((f) => f.id === "phase:prefill") as Finding;
  const dec = phases.find((f) => f.id === "phase:decode") as Finding;
  assert.match(String(pre.numbers.class), /^MUL_MAT f32\[64,8\] = q4_0\[256,64\] · f32\[256,8\]/);
  assert.equal(pre.numbers.share, 0.8);
  assert.match(String(dec.numbers.class), /^ADD f32\[256\]/);
  assert.ok(Math.abs(Number(dec.numbers.share) - 30 / 35) < 1e-12);
  // The verdict and distance are the roofline analysis's for the phase's spans alone.
  const expected = analyze(phaseProfile(profile, "prefill"), ceilings()).classes[0];
  assert.equal(pre.numbers.verdict, expected.bound.verdict);
  assert.equal(pre.numbers.fraction_of_roof, expected.bound.fraction);
  assert.ok(expected.bound.verdict !== "unknown");
  assert.match(pre.title, new RegExp(`${(1 / (expected.bound.fraction as number)).toFixed(1)}x below it`));
  // Evidence: the roofline class and the timeline of the phase's calls.
  assert.deepEqual(pre.evidence[0], { kind: "roofline", class: expected.key });
  assert.deepEqual(
    dec.evidence.find((e) => e.kind === "timeline"),
    { kind: "timeline", op: "ADD", range: [100_000, profile.calls[3].endNs] },
  );
  // Without ceilings the finding stays, without a verdict.
  assert.match(one(findings(profile, null).filter((f) => f.id === "phase:prefill"), "phase").title, /bound unknown/);
});

// ---- 2. threads idle inside ops ----------------------------------------------------------

test("idle threads: thread 2 finishing each ADD 30 µs after thread 1 is reported with the time lost; a balanced op is not", () => {
  const decode = [matmul(0x300, 1), add(0x400, 1)];
  const calls: TestCall[] = [];
  for (let k = 0; k < 4; k++) {
    calls.push({
      nTokens: 1,
      at: 200_000 * k,
      runs: [
        { tensor: 0x300, threads: balanced(0, 50_000) },
        { tensor: 0x400, threads: [[50_000, 60_000], [50_000, 90_000]] },
      ],
    });
  }
  const list = findings(profileOf([], decode, calls), ceilings());
  const idle = one(list, "idle-threads");
  assert.match(idle.title, /^threads idle in ADD f32\[256\]/);
  assert.equal(idle.numbers.instances, 4);
  assert.equal(idle.numbers.wait_ms, (4 * 30_000) / 1e6);
  assert.equal(idle.numbers.busy_ms, (4 * 50_000) / 1e6);
  assert.equal(idle.numbers.lost_share, 30_000 / 80_000);
  assert.equal(idle.numbers.mean_spread_us, 30);
  assert.equal(idle.numbers.last_tid, 2);
  assert.equal(idle.numbers.last_tid_share, 1);
  // Score: the wait over all op thread time (busy + wait of every instance).
  assert.equal(idle.score, (4 * 30_000) / (4 * (100_000 + 80_000)));
  assert.equal(idle.severity, severityOf(idle.score));
  assert.ok(idle.evidence.some((e) => e.kind === "timeline" && e.op === "ADD"));
});

test("op instances: wait is each thread's gap to the last end; major faults summed over the spans", () => {
  const decode = [add(0x400, 1)];
  const profile = profileOf([], decode, [{ nTokens: 1, at: 0, runs: [{ tensor: 0x400, threads: [[0, 10], [2, 25]], majFlt: 3 }] }]);
  const [i] = opInstances(profile);
  assert.deepEqual([i.threads, i.busyNs, i.waitNs, i.endNs - i.firstEndNs, i.majorFaults, i.lastTid], [2, 33, 15, 15, 3, 2]);
});

// ---- 4. attention growth -----------------------------------------------------------------

function attentionRun(nCalls: number, timeOf: (position: number) => number, node: TestNode, neOf: (position: number) => number[] | undefined = () => undefined): Profile {
  const prefill = [add(0x200, 8)];
  const decode = [add(0x400, 1), node];
  const calls: TestCall[] = [{ nTokens: 8, at: 0, runs: [{ tensor: 0x200, threads: balanced(0, 5_000) }] }];
  for (let k = 0; k < nCalls; k++) {
    const position = 8 + k; // the prompt's 8 tokens, then one per decode call
    calls.push({ nTokens: 1, at: 1_000_000 * (k + 1), runs: [{ tensor: 0x400, threads: balanced(0, 5_000) }, { tensor: node.tensor, threads: balanced(5_000, timeOf(position)), ne: neOf(position) }] });
  }
  return profileOf(prefill, decode, calls);
}

const flashAttention: TestNode = {
  tensor: 0x500,
  op: OP.FLASH_ATTN_EXT,
  ne: [32, 8, 1, 1],
  name: "node_21",
  sources: [
    { tensor: 0x10500, type: TYPE.f32, ne: [32, 1, 8, 1] },
    { tensor: 0x20500, type: TYPE.f16, ne: [32, 256, 2, 1] },
  ],
};

test("attention growth: FLASH_ATTN_EXT time per decode call against the context position, slope by least squares", () => {
  const list = findings(attentionRun(10, (p) => 10_000 + 500 * p, flashAttention), null);
  const growth = one(list, "attention-growth");
  assert.ok(Math.abs(Number(growth.numbers.slope_ns_per_token) - 500) < 1e-6);
  assert.ok(Math.abs(Number(growth.numbers.r2) - 1) < 1e-9);
  assert.ok(Math.abs(Number(growth.numbers.least_squares_slope_ns_per_token) - 500) < 1e-6);
  assert.deepEqual([growth.numbers.first_position, growth.numbers.last_position, growth.numbers.decode_calls], [8, 17, 10]);
  assert.ok(Math.abs(Number(growth.numbers.fitted_first_us) - 14) < 1e-9);
  assert.match(growth.title, /grows 50\.0 µs per 100 tokens of context/);
  assert.deepEqual(growth.evidence[0].kind === "timeline" && growth.evidence[0].op, "FLASH_ATTN_EXT");
  const flat = one(findings(attentionRun(10, () => 20_000, flashAttention), null), "attention-growth");
  assert.equal(flat.numbers.slope_ns_per_token, 0);
  assert.equal(flat.score, 0);
});

test("attention growth: without flash attention the KQ product is found by its tensor name, with the KV length it ran over; other matmuls are not attention", () => {
  const kq = { ...matmul(0x600, 1, "kq-0"), ne: [256, 1, 8, 1] };
  // The KV cache view grows from 256 to 512 keys at position 12 (the structure keeps 256: the OP_BEGIN has the shape it ran with).
  const kvOf = (p: number): number[] => [p < 12 ? 256 : 512, 1, 8, 1];
  const growth = one(findings(attentionRun(8, (p) => 1_000 * p, kq, kvOf), null), "attention-growth");
  assert.ok(Math.abs(Number(growth.numbers.slope_ns_per_token) - 1_000) < 1e-6);
  assert.match(growth.title, /^attention \(MUL_MAT\)/);
  assert.equal(growth.numbers.kv_lengths, "256,512");
  assert.deepEqual(
    growth.details.filter((d) => d.startsWith("KV length")),
    ["KV length 256 at positions 8-11: median 9.5 µs per call", "KV length 512 at positions 12-15: median 13.5 µs per call"],
  );
  assert.deepEqual(byKind(findings(attentionRun(8, (p) => 1_000 * p, matmul(0x600, 1, "ffn_up-0")), null), "attention-growth"), []);
  assert.deepEqual(byKind(findings(attentionRun(4, (p) => 1_000 * p, kq), null), "attention-growth"), [], "too few decode calls to fit");
});

test("attention growth: one preempted call does not move the slope (median of pairwise slopes)", () => {
  const growth = one(findings(attentionRun(12, (p) => (p === 19 ? 5_000_000 : 10_000 + 100 * p), flashAttention), null), "attention-growth");
  assert.ok(Math.abs(Number(growth.numbers.slope_ns_per_token) - 100) < 1e-6);
  assert.ok(Number(growth.numbers.least_squares_slope_ns_per_token) > 1_000, "least squares is pulled by the outlier");
});

test("fitLine: exact on a line, r² 0 on a flat series", () => {
  assert.deepEqual(fitLine([1, 2, 3, 4], [3, 5, 7, 9]), { intercept: 1, slope: 2, r2: 1 });
  assert.deepEqual(fitLine([1, 2, 3], [4, 4, 4]), { intercept: 4, slope: 0, r2: 0 });
});

// ---- 5. MoE ------------------------------------------------------------------------------

const expertMatmul = (tensor: number, name: string): TestNode => ({
  tensor,
  op: OP.MUL_MAT_ID,
  ne: [64, 2, 1, 1],
  name,
  sources: [
    { tensor: tensor + 0x10000, type: TYPE.q4_0, ne: [256, 64, 4, 1] },
    { tensor: tensor + 0x20000, type: TYPE.f32, ne: [256, 1, 1, 1] },
    { tensor: tensor + 0x30000, type: TYPE.i32, ne: [2, 1, 1, 1] },
  ],
});

/** Decode calls running the gate of layers 0 and 1 (and up of layer 0, same routing) with the given picks. */
function moeRun(picks: { layer0: number[]; layer1: number[] }[], faults: (k: number) => number = () => 0, length: (k: number) => number = () => 10_000): Profile {
  const decode = [expertMatmul(0x700, "ffn_moe_gate-0"), expertMatmul(0x710, "ffn_moe_up-0"), expertMatmul(0x800, "ffn_moe_gate-1")];
  const calls: TestCall[] = picks.map((p, k) => ({
    nTokens: 1,
    at: 1_000_000 * (k + 1),
    runs: [
      { tensor: 0x700, threads: balanced(0, length(k)), majFlt: faults(k), experts: { nUsed: 2, ids: p.layer0 } },
      { tensor: 0x710, threads: balanced(length(k), 10_000), experts: { nUsed: 2, ids: p.layer0 } },
      { tensor: 0x800, threads: balanced(length(k) + 10_000, 10_000), experts: { nUsed: 2, ids: p.layer1 } },
    ],
  }));
  return profileOf([], decode, calls);
}

test("MoE skew: a layer whose routing piles on one expert is reported, an even layer is not; each layer counted once", () => {
  const picks = Array.from({ length: 12 }, (_, k) => ({ layer0: [k % 4, (k + 1) % 4], layer1: [2, k % 2] }));
  const skew = one(findings(moeRun(picks), null), "moe-skew");
  // Layer 1 picks expert 2 every time: 12 of 24 picks, an even share is 6.
  assert.equal(skew.numbers.worst_layer, 1);
  assert.equal(skew.numbers.worst_expert, 2);
  assert.equal(skew.numbers.worst_ratio, 2);
  assert.deepEqual([skew.numbers.layers, skew.numbers.skewed_layers, skew.numbers.experts], [2, 1, 4]);
  assert.deepEqual(skew.details, ["layer 1 (ffn_moe_gate-1): picks per expert 6 6 12 0; expert 2 2.0x an even share"]);
  const even = Array.from({ length: 12 }, (_, k) => ({ layer0: [k % 4, (k + 1) % 4], layer1: [(k + 2) % 4, (k + 3) % 4] }));
  assert.deepEqual(byKind(findings(moeRun(even), null), "moe-skew"), []);
});

test("cold weights: runs with major page faults against the same class's runs without, and the experts first used in them", () => {
  // Calls 0 and 9 fault; call 9 picks expert 3 of layer 0 after 9 routings without it.
  const picks = Array.from({ length: 10 }, (_, k) => ({ layer0: k === 9 ? [0, 3] : [0, 1], layer1: [0, 1] }));
  const profile = moeRun(picks, (k) => (k === 0 || k === 9 ? 5 : 0), (k) => (k === 0 || k === 9 ? 90_000 : 10_000));
  const cold = one(findings(profile, null), "cold-weights");
  // The class holds the gate and up runs of both layers (same types and shapes): 30 runs, 2 of them cold.
  assert.deepEqual([cold.numbers.cold_runs, cold.numbers.warm_runs, cold.numbers.major_faults], [2, 28, 10]);
  assert.deepEqual([cold.numbers.cold_mean_us, cold.numbers.warm_mean_us], [90, 10]);
  assert.equal(cold.numbers.extra_ms, (2 * 80_000) / 1e6);
  // Call 0 uses experts 0 and 1 of both layers for the first time (layer 0 counted in that run); call 9 brings back expert 3.
  assert.equal(cold.numbers.first_used_experts, 3);
  assert.match(cold.details[0], /layer 0 #0, layer 0 #1, layer 0 #3/);
  assert.match(cold.title, /^2 run\(s\) of MUL_MAT_ID f32\[64,2\] = q4_0\[256,64,4\] · f32\[256\] · i32\[2\] took 10 major page faults: 90\.0 µs each against 10\.0 µs without \(9\.0x\)/);
  assert.deepEqual(byKind(findings(moeRun(picks), null), "cold-weights"), [], "no faults, no finding");
});

// ---- 6. offload --------------------------------------------------------------------------

test("offload: no data says so; an offload slower than the CPU with its copies is reported, a faster one is not", () => {
  assert.equal(offloadFinding(undefined).title, "no offload in this profile");
  assert.equal(offloadFinding(undefined).severity, "info");
  const slow = offloadFinding({
    classes: [{ class: "MUL_MAT f32[64] = q4_0[256,64] · f32[256]", op: "MUL_MAT", copyNs: 100_000, backends: [{ name: "CPU", ns: 100_000, runs: 10 }, { name: "CUDA0", ns: 20_000, runs: 10 }] }],
  });
  assert.equal(slow.kind, "offload");
  assert.deepEqual(slow.numbers, { classes: 1, loss_ms: 0.02 });
  assert.match(slow.details[0], /: 12\.0 µs per run on CUDA0 with copies, 10\.0 µs on the CPU$/);
  const fast = offloadFinding({ classes: [{ class: "c", op: "MUL_MAT", copyNs: 1_000, backends: [{ name: "CPU", ns: 100_000, runs: 10 }, { name: "CUDA0", ns: 20_000, runs: 10 }] }] });
  assert.match(fast.title, /paid off/);
});

// ---- the report --------------------------------------------------------------------------

test("findings are ranked by score; the text names each with severity, details and evidence", () => {
  const decode = [matmul(0x300, 1), add(0x400, 1)];
  const calls: TestCall[] = [0, 1, 2].map((k) => ({ nTokens: 1, at: 200_000 * k, runs: [{ tensor: 0x300, threads: balanced(0, 50_000) }, { tensor: 0x400, threads: [[50_000, 60_000], [50_000, 90_000]] }] }));
  const profile = profileOf([], decode, calls);
  const list = findings(profile, ceilings());
  for (let k = 1; k < list.length; k++) assert.ok(list[k - 1].score >= list[k].score);
  assert.equal(list[list.length - 1].id, "offload:none");
  const text = findingsText(list, profile.calls[0].startNs).join("\n");
  assert.match(text, /^findings \(ranked/);
  assert.match(text, /1\. \[(high|medium|low)\] decode: MUL_MAT/);
  assert.match(text, /evidence: timeline ADD 0\.1-0\.5 ms; roofline ADD f32\[256\]/);
  assert.match(text, /\[info\] no offload in this profile/);
});
