// Fidelity of the op profile (figure 6): does op tracing tell the truth about where time goes?
//  - op-type time shares from the op spans against the shares of the helper's own timer samples
//    (each tagged with the op its thread ran when the timer fired), in the same full-mode run;
//  - the share of each graph's compute time, per worker thread, that op spans cover;
//  - llama-bench's own tokens/s against the profile's per-token (llama_decode) times, same run.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { lastAtOrBefore } from "../../extension/profile/sorted";
import { decodeStream } from "../../extension/profile/stream";

export interface FidelityRun {
  /** per op (first op of a fused group): share of span time and share of tagged samples */
  shares: Record<string, { spans: number; samples: number }>;
  taggedSamples: number;
  untaggedSamples: number;
  /** per (graph run, thread): share of the graph's duration accounted to ops (span + barrier wait after it) */
  coverage: number[];
  /** time accounted to ops over graph time, summed over every (graph run, thread) */
  coverageOverall: number;
  /** the same for the op spans alone (compute, without the barrier waits) */
  insideSpansOverall: number;
}

export interface BenchComparison {
  llamaBenchTokS: number;
  profileTokS: number;
  decodeCalls: number;
  error?: string;
}

/** The op a timer sample was tagged with: the node of that tensor in the graph running at its time. */
function sampleOps(p: Profile): { byOp: Map<string, number>; untagged: number } {
  const byOp = new Map<string, number>();
  let untagged = 0;
  const starts = p.graphs.map((g) => g.startNs);
  const nodeOps = new Map<string, Map<number, string>>();
  for (const [signature, nodes] of p.structures) nodeOps.set(signature, new Map(nodes.map((n) => [n.tensor, n.op])));
  const s = p.samples;
  for (let i = 0; i < s.count; i++) {
    const tensor = Number(s.tensor[i]);
    const g = p.graphs[lastAtOrBefore(starts, s.ts[i])];
    const op = tensor && g && s.ts[i] <= g.endNs ? nodeOps.get(g.signature)?.get(tensor) : undefined;
    if (op) byOp.set(op, (byOp.get(op) ?? 0) + 1);
    else untagged++;
  }
  return { byOp, untagged };
}

/** Span time per op, counting a fused group under its first op (as samples are tagged). */
function spanOps(p: Profile): Map<string, number> {
  const byOp = new Map<string, number>();
  const sp = p.spans;
  for (let i = 0; i < sp.count; i++) {
    const op = p.header.ops[p.labels[sp.label[i]].op] ?? "?";
    byOp.set(op, (byOp.get(op) ?? 0) + (sp.endNs[i] - sp.startNs[i]));
  }
  return byOp;
}

/**
 * Per worker thread and graph run: the time accounted to ops, each op from its start to the next op's
 * start on the thread (its span, then the wait at the barrier after it; the last one to the graph's
 * end), against the graph's duration. What is left is what op tracing missed: the start of the graph
 * before a thread's first op, and ops without a span.
 */
function coverageOf(p: Profile): { perGraphThread: number[]; overall: number; insideSpans: number } {
  const perGraphThread: number[] = [];
  let accounted = 0;
  let inSpans = 0;
  let total = 0;
  for (const lane of p.threads) {
    let s = lane.first;
    const end = lane.first + lane.count;
    for (const g of p.graphs) {
      while (s < end && p.spans.startNs[s] < g.startNs) s++;
      let here = 0;
      let k = s;
      for (; k < end && p.spans.startNs[k] <= g.endNs; k++) {
        const next = k + 1 < end && p.spans.startNs[k + 1] <= g.endNs ? p.spans.startNs[k + 1] : g.endNs;
        here += next - p.spans.startNs[k];
        inSpans += Math.min(p.spans.endNs[k], g.endNs) - p.spans.startNs[k];
      }
      s = k;
      if (here === 0) continue; // this thread took no part in the graph
      const duration = g.endNs - g.startNs;
      perGraphThread.push(here / duration);
      accounted += here;
      total += duration;
    }
  }
  return { perGraphThread, overall: total > 0 ? accounted / total : 0, insideSpans: total > 0 ? inSpans / total : 0 };
}

export function fidelityOf(file: string): FidelityRun {
  const p = buildProfile(decodeStream(new Uint8Array(fs.readFileSync(file))));
  const spans = spanOps(p);
  const { byOp, untagged } = sampleOps(p);
  const spanTotal = [...spans.values()].reduce((a, b) => a + b, 0);
  const sampleTotal = [...byOp.values()].reduce((a, b) => a + b, 0);
  const shares: FidelityRun["shares"] = {};
  for (const op of new Set([...spans.keys(), ...byOp.keys()]))
    shares[op] = { spans: (spans.get(op) ?? 0) / spanTotal, samples: (byOp.get(op) ?? 0) / (sampleTotal || 1) };
  const cov = coverageOf(p);
  return { shares, taggedSamples: sampleTotal, untaggedSamples: untagged, coverage: cov.perGraphThread, coverageOverall: cov.overall,
    insideSpansOverall: cov.insideSpans };
}

/** llama-bench under the helper (sample mode: no op probes): its own tokens/s and the profile's decode calls. */
export function benchAgainstProfile(helper: string, llamaBench: string, model: string, out: string, threads: number): BenchComparison {
  const run = spawnSync(helper, ["--mode", "sample", "--out", out, "--", llamaBench, "-m", model, "-p", "0", "-n", "32", "-r", "3",
    "-t", String(threads), "-o", "json"], { encoding: "utf8", timeout: 15 * 60_000, maxBuffer: 64 << 20 });
  const failed = (error: string): BenchComparison => ({ llamaBenchTokS: NaN, profileTokS: NaN, decodeCalls: 0, error });
  if (run.status !== 0 || !fs.existsSync(out)) return failed(`exit ${run.status}: ${run.stderr.slice(-400)}`);
  const json = run.stdout.slice(run.stdout.indexOf("["));
  const results = JSON.parse(json) as { n_gen: number; avg_ts: number }[];
  const tg = results.find((r) => r.n_gen > 0);
  if (!tg) return failed("llama-bench reported no generation test");
  const p = buildProfile(decodeStream(new Uint8Array(fs.readFileSync(out))));
  // llama-bench generates token by token: one-token decode calls, the first of them its warm-up.
  const decode = p.calls.filter((c) => c.kind === "decode").slice(1);
  const totalNs = decode.reduce((a, c) => a + (c.endNs - c.startNs), 0);
  fs.rmSync(out);
  return { llamaBenchTokS: tg.avg_ts, profileTokS: (decode.length * 1e9) / totalNs, decodeCalls: decode.length };
}
