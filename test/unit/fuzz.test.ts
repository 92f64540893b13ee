/**
 * Fuzzes the profile readers: the stream decoder (whole and live), buildProfile, the .ggmlprof
 * container reader and the file loader, on mutated real-layout streams and containers (and a real
 * recording made here when running as root). Every case must end in a result or a documented
 * error with a one-line message, in bounded time and memory; many mutations also say what the
 * result must be. See fuzzInputs.ts for the cases, fuzzer.ts for the properties.
 *
 *   npm test                                   DEFAULT_CASES cases
 *   npm run fuzz [-- N | --cases N] [--seed S] [--from I]   1,000,000 cases by default
 *   npm run fuzz -- --seed S --case N [--recording F]   replays one case and prints it
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { deflateRawSync } from "node:zlib";
import { loadRecording } from "../../extension/profile/file";
import { Codec, decodeContainer } from "../../extension/profile/format";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream, ProfileFormatError } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";
import { CASE_LIMIT_MS, fileProblems, makeSeeds, messageProblem, REAL_TARGETS, replayCommand, runCase, type FuzzSeeds, type Targets } from "./fuzzer";
import { assemble, builtStreams, containerSeed, sectionsOf, streamSeed, withMeta, type ContainerSeed } from "./fuzzInputs";
import type { WorkerInput, WorkerReport } from "./fuzzWorker";

/** Cases in `npm test`: 140 s on one core of the 2-core development machine (README, "Profile files and export"). */
const DEFAULT_CASES = 200_000;
const DEFAULT_SEED = 0x5eed;
/** A case in flight this long is a hang: the worker is stopped and the case named. */
const HANG_MS = 30_000;
/** The worker's heap limit: a case that needs more fails as out of memory. */
const HEAP_LIMIT_MB = 512;

interface Options {
  cases: number;
  from: number;
  seed: number;
  only: number | undefined;
  recording: string | undefined;
}

/**
 * Flags as `--name value`, the last one given winning (so that `npm run fuzz -- --cases N` overrides
 * the script's own); a bare number, as in `npm run fuzz -- N`, is the case count.
 */
function options(argv: string[]): Options {
  const bare = argv.find((a, j) => /^\d+$/.test(a) && !argv[j - 1]?.startsWith("--"));
  const value = (flag: string) => {
    if (flag === "--cases" && bare !== undefined) return bare;
    const i = argv.lastIndexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const integer = (flag: string, fallback: number) => {
    const text = value(flag);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a whole number, got ${JSON.stringify(text)}`);
    return n;
  };
  const only = value("--case");
  return {
    cases: integer("--cases", DEFAULT_CASES),
    from: integer("--from", 0),
    seed: integer("--seed", DEFAULT_SEED),
    only: only === undefined ? undefined : integer("--case", 0),
    recording: value("--recording"),
  };
}

const opts = options(process.argv.slice(2));

/** A small real recording (tiny MoE model, 2 tokens, every op), made once per run; undefined when not root. */
function realRecording(): { path: string | undefined; why?: string } {
  if (opts.recording) return { path: opts.recording };
  if (process.getuid?.() !== 0) return { path: undefined, why: "not root: the real-recording seeds are left out (built streams only)" };
  const f = recordedFixtures();
  const probe = f.probeHelper ?? "";
  const model = f.models?.tinyMoe ?? "";
  if (![probe, model, f.llamaCompletion ?? ""].every((p) => p && existsSync(p))) {
    return { path: undefined, why: "no probe helper, llama-completion or tiny MoE model (npm run setup): the real-recording seeds are left out" };
  }
  const out = path.join(mkdtempSync(path.join(tmpdir(), "ggml-lens-fuzz-rec-")), "real.stream");
  const command = [f.llamaCompletion as string, "-m", model, "-p", "Hi", "-n", "2", "-t", "2", "--no-warmup", "-no-cnv", "--temp", "0"];
  const run = spawnSync(probe, ["--mode", "full", "--out", out, "--", ...command], { encoding: "utf8", timeout: 120_000 });
  assert.ok(existsSync(out), `the probe helper wrote no recording: ${run.stderr}`);
  const decoded = decodeStream(new Uint8Array(readFileSync(out)));
  assert.ok(decoded.count > 500 && !decoded.truncated && decoded.tables.opBegin.count > 0, `a short recording: ${decoded.count} records`);
  return { path: out };
}

function runWorker(input: Omit<WorkerInput, "progress">): Promise<WorkerReport> {
  const progress = new SharedArrayBuffer(4);
  const inFlight = new Int32Array(progress);
  const source = `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(path.join(__dirname, "fuzzWorker.ts"))});`;
  const worker = new Worker(source, { eval: true, workerData: { ...input, progress }, resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB } });
  const replay = (index: number) => replayCommand(input.runSeed, index, input.recording);
  return new Promise((resolve, reject) => {
    let last = -1;
    let since = Date.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(inFlight, 0);
      if (now !== last) [last, since] = [now, Date.now()];
      else if (Date.now() - since > HANG_MS) {
        clearInterval(watchdog);
        void worker.terminate();
        reject(new Error(`case ${now} of seed ${input.runSeed} hangs (over ${HANG_MS / 1000} s); replay: ${replay(now)}`));
      }
    }, 500);
    worker.on("message", (message: WorkerReport | { fatal: string }) => {
      clearInterval(watchdog);
      if ("fatal" in message) reject(new Error(`the fuzz worker failed: ${message.fatal}`));
      else resolve(message);
    });
    worker.on("error", (err) => {
      clearInterval(watchdog);
      const index = Atomics.load(inFlight, 0);
      reject(new Error(`case ${index} of seed ${input.runSeed} killed the worker (${err.message}); replay: ${replay(index)}`));
    });
  });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function summary(report: WorkerReport): string {
  const outcomes = Object.entries(report.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([mutator, byOutcome]) => `  ${mutator}: ${Object.entries(byOutcome).map(([o, n]) => `${o} ${n}`).join(", ")}`);
  return [
    `${report.cases} cases in ${(report.ms / 1000).toFixed(1)} s (${((report.ms * 1000) / report.cases).toFixed(0)} µs a case); slowest case ${report.slowestCase}: ${report.maxCaseMs.toFixed(1)} ms`,
    `memory (heap + array buffers): ${mib(report.settledBefore)} settled after warming up, ${mib(report.settledAfter)} after the run, ${mib(report.peakMemory)} peak, largest growth over one case ${mib(report.maxCaseGrowth)}; peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}`,
    "outcomes by mutation:",
    ...outcomes,
  ].join("\n");
}

async function replayOne(index: number, recording: string | undefined, seeds: FuzzSeeds): Promise<void> {
  const result = runCase(seeds, opts.seed, index, REAL_TARGETS);
  result.problems.push(...(await fileProblems(result, true)));
  console.log(`case ${index} of seed ${opts.seed}: seed ${result.seed}, ${result.mutator}: ${result.what}`);
  console.log(`  expected ${JSON.stringify(result.mutant?.expect)}, outcome ${result.outcome}, ${result.inputBytes} bytes`);
  assert.deepEqual(result.problems, [], `replay: ${replayCommand(opts.seed, index, recording)}`);
}

if (opts.only !== undefined) {
  const only = opts.only;
  test(`replay of case ${only} of seed ${opts.seed}`, async () => {
    const seeds = makeSeeds(opts.recording ? new Uint8Array(readFileSync(opts.recording)) : undefined);
    await replayOne(only, opts.recording, seeds);
  });
} else {
  test(`fuzz: ${opts.cases} cases of seed ${opts.seed}: a result or a one-line documented error, bounded time and memory`, { timeout: 4 * 3600_000 }, async (t) => {
    const recording = realRecording();
    if (recording.why) t.diagnostic(recording.why);
    const report = await runWorker({ runSeed: opts.seed, from: opts.from, to: opts.from + opts.cases, recording: recording.path, memoryEvery: 1 });
    for (const line of summary(report).split("\n")) t.diagnostic(line);
    const failures = report.failures.map((f) => `case ${f.index} (${f.seed}, ${f.mutator}: ${f.what}):\n    ${f.problems.join("\n    ")}\n    replay: ${replayCommand(opts.seed, f.index, recording.path)}`);
    assert.deepEqual(failures, [], `${report.failures.length} failing cases (seed ${opts.seed})`);
    assert.equal(report.cases, opts.cases);
    assert.ok(report.maxCaseMs <= CASE_LIMIT_MS, `case ${report.slowestCase} took ${report.maxCaseMs.toFixed(0)} ms (limit ${CASE_LIMIT_MS}); replay: ${replayCommand(opts.seed, report.slowestCase, recording.path)}`);
    assert.ok(report.settledAfter - report.settledBefore < 16 << 20, `memory grew by ${mib(report.settledAfter - report.settledBefore)} over the run`);
  });
}

test("the fuzzer reports a planted crash, and the case it names replays alike", () => {
  const seeds = makeSeeds();
  const planted: Targets = {
    ...REAL_TARGETS,
    decodeStream: (bytes) => {
      if (bytes.length % 5 === 0) throw new TypeError("planted");
      return decodeStream(bytes);
    },
  };
  const caught = Array.from({ length: 300 }, (_, i) => runCase(seeds, 7, i, planted)).filter((r) => r.problems.some((p) => p.startsWith("crash: TypeError: planted")));
  assert.ok(caught.length >= 10, `${caught.length} of 300 cases caught the planted crash`);
  for (const first of caught.slice(0, 5)) {
    const again = runCase(seeds, 7, first.index, planted);
    const firstLines = (problems: string[]) => problems.map((p) => p.split("\n")[0]);
    assert.deepEqual([again.what, again.outcome, firstLines(again.problems)], [first.what, first.outcome, firstLines(first.problems)]);
    assert.ok(!runCase(seeds, 7, first.index).problems.some((p) => p.includes("planted")));
  }
});

// ---- what the fuzzer found, kept as regression tests ---------------------------------------

function smallContainer(): ContainerSeed {
  const [built] = builtStreams();
  return containerSeed(built.name, streamSeed(built.name, built.bytes), Codec.Deflate);
}

/** The seed's metadata with `change` applied to a copy. */
function metaWith(seed: ContainerSeed, change: (tables: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const meta = structuredClone(seed.meta) as { tables: Record<string, Record<string, unknown>> };
  change(meta.tables);
  return withMeta(seed, meta);
}

function loadContainer(bytes: Uint8Array): void {
  const { stream } = decodeContainer(bytes);
  buildProfile(stream);
}

test("a container's table count that its sections do not back is refused up front (2^32 rows of no column hung the profile builder)", () => {
  const seed = smallContainer();
  const cases: [string, (t: Record<string, Record<string, unknown>>) => void, RegExp][] = [
    ["2^32 rows, no columns", (t) => (t.decodeEnd = { count: 2 ** 32, columns: {}, strings: {} }), /table decodeEnd has 4294967296 rows and no offset column/],
    ["an array for a count", (t) => (t.decodeEnd.count = [1, 2]), /table decodeEnd has no valid count/],
    ["a negative count", (t) => (t.opBegin.count = -1), /table opBegin has no valid count/],
    ["a fractional count", (t) => (t.opBegin.count = 1.5), /table opBegin has no valid count/],
    ["more rows than the columns hold", (t) => (t.opBegin.count = 10 ** 9), /column opBegin\.\w+ holds \d+ values for \d+ rows/],
    ["a column of width 3", (t) => ((t.opEnd.columns as Record<string, { width: number }>).ts.width = 3), /description of column opEnd\.ts is not valid/],
    ["a column in section \"x\"", (t) => ((t.opEnd.columns as Record<string, { section: unknown }>).ts.section = "x"), /description of column opEnd\.ts is not valid/],
  ];
  for (const [what, change, message] of cases) {
    const started = performance.now();
    assert.throws(() => loadContainer(metaWith(seed, change)), (err: Error) => err instanceof ProfileFormatError && message.test(err.message), what);
    assert.ok(performance.now() - started < 1000, `${what}: refused in ${performance.now() - started} ms`);
  }
});

test("a container's decode summary of the wrong types is refused (errors: 5 made a TypeError)", () => {
  const seed = smallContainer();
  for (const decode of [{ errors: 5 }, { errors: [1] }, { count: "9" }, { truncated: "no" }, { unknown: { 200: -1 } }]) {
    const meta = structuredClone(seed.meta) as { decode: Record<string, unknown> };
    Object.assign(meta.decode, decode);
    assert.throws(() => loadContainer(withMeta(seed, meta)), /corrupt: the metadata's (decode summary|count of unknown records) is not valid/, JSON.stringify(decode));
  }
});

test("a damaged section that inflates to more than its header says is stopped at that size", () => {
  const seed = smallContainer();
  const sections = sectionsOf(seed);
  const column = (seed.meta.tables as Record<string, { columns: Record<string, { section: number }> }>).opBegin.columns.ts.section;
  const bomb = deflateRawSync(new Uint8Array(64 << 20));
  sections[column] = { codec: Codec.Deflate, payload: bomb, decoded: sections[column].decoded };
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => decodeContainer(assemble(seed, sections)).stream.tables.opBegin.ts, /corrupt: section \d+ \(opBegin\.ts\) does not decompress/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, "the section was not inflated whole");
});

test("a JSON error that quotes control characters from the file stays one printable line", () => {
  const printable = (err: Error) => messageProblem(err.message) === undefined;
  const [built] = builtStreams();
  const seed = streamSeed(built.name, built.bytes);
  const bytes = built.bytes.slice();
  bytes[bytes.subarray(0, seed.jsonEnd).lastIndexOf(":".charCodeAt(0))] = 0x1b;
  assert.throws(() => decodeStream(bytes), (err: Error) => err instanceof ProfileFormatError && /is not valid JSON/.test(err.message) && printable(err));
  const container = smallContainer();
  const text = new TextEncoder().encode('{"format":"ggmlprof",\n"x"\u001b}');
  const sections = sectionsOf(container);
  sections[0] = { codec: Codec.Stored, payload: text, decoded: text.length };
  assert.throws(() => decodeContainer(assemble(container, sections)), (err: Error) => /metadata is not valid JSON/.test(err.message) && printable(err));
});

test("a stored (uncompressed) column at an odd offset of a file read from disk loads (a Buffer's slice() kept it misaligned)", async () => {
  const [built] = builtStreams();
  const stored = containerSeed(built.name, streamSeed(built.name, built.bytes), Codec.Stored);
  const sections = sectionsOf(stored);
  // Widen the metadata by one byte, so that every later section starts one byte further.
  const meta = new TextEncoder().encode(JSON.stringify(stored.meta) + " ");
  sections[0] = { codec: Codec.Stored, payload: meta, decoded: meta.length };
  const file = path.join(mkdtempSync(path.join(tmpdir(), "ggml-lens-fuzz-")), "odd.ggmlprof");
  writeFileSync(file, assemble(stored, sections));
  const { stream } = await loadRecording(file);
  const expected = decodeStream(built.bytes);
  assert.deepEqual(Array.from(stream.tables.opBegin.ts), Array.from(expected.tables.opBegin.ts));
  assert.deepEqual(Array.from(stream.tables.graphNode.tensor), Array.from(expected.tables.graphNode.tensor));
});

test("container metadata with tables: null is refused with the format's message", () => {
  const seed = smallContainer();
  assert.throws(() => loadContainer(withMeta(seed, { ...seed.meta, tables: null })), /corrupt: the metadata lacks the format, stream or tables fields/);
});
