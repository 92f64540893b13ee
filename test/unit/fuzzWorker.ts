/**
 * Runs a range of fuzz cases in a worker thread (started by fuzz.test.ts, which watches its progress
 * for hangs and bounds its heap) and posts a report: outcomes, times, memory, failures.
 */
import { readFileSync } from "node:fs";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort, workerData } from "node:worker_threads";
import { fileProblems, makeSeeds, memoryBound, runCase } from "./fuzzer";

export interface WorkerInput {
  runSeed: number;
  from: number;
  to: number;
  recording: string | undefined;
  /** Int32Array[0]: the case in flight, for the watchdog. */
  progress: SharedArrayBuffer;
  /** Memory is sampled around every this many cases. */
  memoryEvery: number;
}

export interface Failure {
  index: number;
  seed: string;
  mutator: string;
  what: string;
  problems: string[];
}

export interface WorkerReport {
  cases: number;
  ms: number;
  maxCaseMs: number;
  slowestCase: number;
  /** Heap + array buffers after a full GC, once the first cases have warmed the code up, and after the run. */
  settledBefore: number;
  settledAfter: number;
  /** Highest heap + array buffers seen after a case. */
  peakMemory: number;
  /** Largest growth of heap + array buffers over one sampled case, and its bound. */
  maxCaseGrowth: number;
  outcomes: Record<string, Record<string, number>>;
  failures: Failure[];
}

const MAX_FAILURES = 20;
/** Cases run before the memory baseline is taken (compiled code and caches grow at first). */
const WARM_UP_CASES = 1000;

/** Heap and array buffers in use (V8's statistics: a quarter of the cost of process.memoryUsage()). */
function used(): number {
  const m = getHeapStatistics();
  return m.used_heap_size + m.external_memory;
}

/**
 * Heap and array buffers in use once garbage is gone: the least of three readings, each after a
 * full collection and a turn of the event loop (array buffers freed by one collection are released
 * by a background sweep, so a reading right after it can still count megabytes of garbage).
 */
async function settled(gc: () => void): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    least = Math.min(least, used());
  }
  return least;
}

async function run(input: WorkerInput): Promise<WorkerReport> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const seeds = makeSeeds(input.recording ? new Uint8Array(readFileSync(input.recording)) : undefined);
  const progress = new Int32Array(input.progress);
  const settledBefore = await settled(gc);
  const report: WorkerReport = { cases: 0, ms: 0, maxCaseMs: 0, slowestCase: -1, settledBefore, settledAfter: 0, peakMemory: settledBefore, maxCaseGrowth: 0, outcomes: {}, failures: [] };
  const start = performance.now();
  const warm = input.from + Math.min(WARM_UP_CASES, Math.floor((input.to - input.from) / 10));
  for (let index = input.from; index < input.to && report.failures.length < MAX_FAILURES; index++) {
    Atomics.store(progress, 0, index);
    if (index === warm) report.settledBefore = await settled(gc);
    const sample = index % input.memoryEvery === 0;
    const before = sample ? used() : 0;
    const t0 = performance.now();
    const result = runCase(seeds, input.runSeed, index);
    const ms = performance.now() - t0;
    if (sample) {
      const after = used();
      report.peakMemory = Math.max(report.peakMemory, after);
      report.maxCaseGrowth = Math.max(report.maxCaseGrowth, after - before);
      if (after - before > memoryBound(seeds, result.inputBytes)) result.problems.push(`the case added ${after - before} bytes of memory for ${result.inputBytes} bytes of input`);
    }
    result.problems.push(...(await fileProblems(result)));
    if (ms > report.maxCaseMs) [report.maxCaseMs, report.slowestCase] = [ms, index];
    const byOutcome = (report.outcomes[result.mutator.split("+").length > 1 ? "stacked" : `${seeds.seeds.find((s) => s.name === result.seed)?.kind}:${result.mutator}`] ??= {});
    byOutcome[result.outcome] = (byOutcome[result.outcome] ?? 0) + 1;
    if (result.problems.length > 0) report.failures.push({ index, seed: result.seed, mutator: result.mutator, what: result.what, problems: result.problems });
    report.cases++;
  }
  report.ms = performance.now() - start;
  report.settledAfter = await settled(gc);
  return report;
}

if (parentPort && workerData) {
  const port = parentPort;
  run(workerData as WorkerInput).then(
    (report) => port.postMessage(report),
    (err: Error) => port.postMessage({ fatal: err.stack ?? String(err) }),
  );
}
