/**
 * The benchmarks stay out of `npm test` (`npm run bench` takes ~15 min on a quiet machine); this
 * smoke run checks that they still execute: every figure of `npm run bench` on the tiny models with
 * one round each (needs root: eBPF), and the report rewritten from its raw numbers.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { missedTargets } from "../../scripts/bench/report";

const repo = path.resolve(__dirname, "../..");
const isRoot = process.getuid?.() === 0;

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/bench/run.ts", ...args],
    { cwd: repo, encoding: "utf8", timeout: 20 * 60_000, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 0, or 1 listing each target the tiny models missed: anything else is the bench failing. */
function assertRan(r: { status: number | null; stderr: string }, report: string): void {
  const missed = missedTargets(report);
  if (missed.length) {
    assert.equal(r.status, 1, `missed targets give exit status 1\n${r.stderr.slice(-2000)}`);
    assert.match(r.stderr, new RegExp(`bench: ${missed.length} target\\(s\\) not met`));
  } else assert.equal(r.status, 0, r.stderr.slice(-2000));
}

test("npm run bench executes every figure (tiny models, one round each)", { skip: !isRoot && "needs root (eBPF)", timeout: 25 * 60_000 }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-bench-smoke-"));
  try {
    const r = bench(["--quick", "--model", "tinyDense", "--moe-model", "tinyMoe", "--rounds", "1", "--attach-rounds", "1",
      "--moe-rounds", "1", "--fidelity-rounds", "1", "--tokens", "16", "--long-seconds", "2", "--quiet-wait", "0", "--out-dir", out]);
    const report = fs.readFileSync(path.join(out, "results.md"), "utf8");
    assertRan(r, report);
    for (const figure of ["## 1. Attach and detach", "## 2. Cost per traced op event", "## 3. Overhead of each mode",
      "## 4. Events lost in full mode", "## 5. Stream decode speed", "## 3b. Overhead on the MoE model", "## 6. Fidelity"])
      assert.ok(report.includes(figure), `results.md has "${figure}"`);
    assert.ok(report.includes("Measured directly, on one running target"), "figure 3 has default mode attached and detached in turns");
    assert.ok(report.includes("From each variant's median CPU time over the rounds"), "figure 2 has the precise per-hit comparison");
    type Run = { ok: boolean; variant: string };
    const data = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")) as { runs: Run[]; perHitRuns?: Run[] };
    assert.equal(data.perHitRuns?.length, 4, "one per-hit round of four variants");
    const failed = [...data.runs, ...(data.perHitRuns ?? [])].filter((run) => !run.ok).map((run) => run.variant);
    assert.deepEqual(failed, [], "every variant's run completed");

    const again = path.join(out, "again");
    const rewritten = bench(["--from-json", path.join(out, "results.json"), "--out-dir", again]);
    const rewrittenReport = fs.readFileSync(path.join(again, "results.md"), "utf8");
    assertRan(rewritten, rewrittenReport);
    assert.deepEqual(missedTargets(rewrittenReport), missedTargets(report), "the same verdicts from the raw numbers");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
