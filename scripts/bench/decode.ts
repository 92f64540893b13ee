// Decode throughput of the profile model:  npm run bench:decode [-- options]
//
// Times decodeStream + buildProfile on bytes already in memory (each page touched once before), on one core: every run is a fresh
// Node process pinned to one CPU (taskset), so V8's GC helper threads share that core too. Inputs:
//   - a real full-mode recording of the 1B-class benchmark model, 2 threads: the helper's raw stream
//     (--recording FILE; by default one recorded here by the probe helper into the cache, once);
//   - synthetic streams of the same shape (scripts/bench/synthetic.ts, written with the test
//     encoder): 1M op spans, and 10M events.
// Each process decodes the input once cold (fresh JIT and heap: what opening a profile costs), then
// WARM_SKIP more times untimed (the JIT compiles the loops over the first few), then again while
// time allows (warm: the median of those runs). Peak RSS is read after the cold run. Runs of all variants and inputs are
// interleaved, their order rotating each round; figures are medians over rounds.
// --baseline REF runs the same on extension/profile as of git REF too, for before/after numbers.
// Writes bench/decode-results.md and bench/decode-results.json (or --out-dir).
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spread, type Spread } from "./stats";
import { eventsForSpans, syntheticStream } from "./synthetic";

const repo = path.resolve(__dirname, "../..");
const WORKING_TREE = "working tree";
const PROMPT = "The quick brown fox jumps over the lazy dog while the old grey cat sleeps in the warm sun.";
/** Targets: issue 3 (events/s on a real recording), issue 4 (1M spans, 10M events, cold, one core). */
const TARGET_EVENTS_PER_S = 5e6;
const TARGET_1M_SPANS_MS = 1000;
const TARGET_10M_EVENTS_MS = 3000;
/** Warm runs per process: as many as fit in the budget, at most this many. */
const WARM_RUNS = 6;
const WARM_BUDGET_MS = 8000;
/** Untimed builds between the cold one and the warm ones. */
const WARM_SKIP = 4;

type Input = { name: string; kind: "file"; path: string } | { name: string; kind: "synthetic"; events: number };

interface ChildSpec {
  code: string;
  input: Input;
}

/** One timed decodeStream + buildProfile. */
interface Timing {
  decodeMs: number;
  buildMs: number;
  /** CPU time of the whole process (all threads) over both. */
  cpuMs: number;
}

interface ChildResult {
  events: number;
  spans: number;
  bytes: number;
  cold: Timing;
  /** The median of the warm runs that followed WARM_SKIP untimed ones (JIT settled; at most WARM_RUNS, within WARM_BUDGET_MS). */
  warm: Timing;
  warmRuns: number;
  /** RSS with the input in memory, before decoding. */
  rssBefore: number;
  /** Peak RSS after the cold run. */
  peakRss: number;
}

interface RunRecord extends ChildResult {
  variant: string;
  input: string;
  round: number;
  load1: number;
}

interface Options {
  runs: number;
  events: number;
  recording?: string;
  baseline?: string;
  outDir: string;
  cpu: number;
}

const HELP = `npm run bench:decode [-- options]
  --runs N          rounds, each running every variant on every input in a fresh process (default 7, at least 5)
  --events N        events of the large synthetic stream (default 10000000)
  --recording FILE  the raw stream to decode (default: a full-mode recording of the benchDenseQ4_0 model
                    made once by the probe helper into $GGML_LENS_CACHE/bench/decode-full.stream; needs root)
  --baseline REF    also run extension/profile as of git REF (e.g. HEAD~3), for before/after numbers
  --cpu N           the CPU the runs are pinned to (default: the last one)
  --out-dir DIR     where decode-results.md and decode-results.json go (default: bench/)
`;

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 7, events: 10_000_000, outDir: path.join(repo, "bench"), cpu: os.cpus().length - 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value (see --help)`);
      return argv[++i];
    };
    const count = (min: number): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < min) throw new Error(`${a} needs a whole number of at least ${min}`);
      return v;
    };
    if (a === "--runs") o.runs = count(5);
    else if (a === "--events") o.events = count(1000);
    else if (a === "--recording") o.recording = path.resolve(value());
    else if (a === "--baseline") o.baseline = value();
    else if (a === "--cpu") o.cpu = count(0);
    else if (a === "--out-dir") o.outDir = path.resolve(value());
    else if (a === "-h" || a === "--help") {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (o.cpu >= os.cpus().length) throw new Error(`--cpu ${o.cpu}: this machine has CPUs 0 to ${os.cpus().length - 1}`);
  return o;
}

function log(message: string): void {
  process.stderr.write(`[bench:decode ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---- child: one process, one input, one version of the code ------------------------------------

type Decode = (bytes: Uint8Array) => { count: number };
type Build = (stream: unknown) => { spans: { count: number } };

function timed(decodeStream: Decode, buildProfile: Build, bytes: Uint8Array): { timing: Timing; events: number; spans: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stream = decodeStream(bytes);
  const t1 = performance.now();
  const profile = buildProfile(stream);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const timing: Timing = { decodeMs: t1 - t0, buildMs: t2 - t1, cpuMs: (cpu.user + cpu.system) / 1000 };
  return { timing, events: stream.count, spans: profile.spans.count };
}

async function child(spec: ChildSpec): Promise<ChildResult> {
  const { decodeStream } = (await import(path.join(spec.code, "stream.ts"))) as { decodeStream: Decode };
  const { buildProfile } = (await import(path.join(spec.code, "model.ts"))) as { buildProfile: Build };
  const bytes: Uint8Array = spec.input.kind === "file" ? fs.readFileSync(spec.input.path) : syntheticStream(spec.input.events).bytes;
  touchPages(bytes);
  const rssBefore = process.memoryUsage().rss;
  const cold = timed(decodeStream, buildProfile, bytes);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  for (let i = 0; i < WARM_SKIP; i++) timed(decodeStream, buildProfile, bytes);
  const warm: Timing[] = [];
  const began = performance.now();
  do warm.push(timed(decodeStream, buildProfile, bytes).timing);
  while (warm.length < WARM_RUNS && performance.now() - began < WARM_BUDGET_MS);
  return { events: cold.events, spans: cold.spans, bytes: bytes.length, cold: cold.timing, warm: medianTiming(warm), warmRuns: warm.length, rssBefore, peakRss };
}

/**
 * Reads one byte of each page of the input before timing: on some virtual machines the first access
 * to the pages of a file just read costs about 2 ms per MiB (100 ms for the 40 MB recording), which
 * is part of reading the file, not of decoding it.
 */
function touchPages(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  return sum;
}

/** The warm run of median CPU time. */
function medianTiming(runs: Timing[]): Timing {
  return [...runs].sort((a, b) => a.cpuMs - b.cpuMs)[runs.length >> 1];
}

// ---- parent ------------------------------------------------------------------------------------

function runChild(o: Options, spec: ChildSpec): ChildResult {
  const args = ["-c", String(o.cpu), process.execPath, "--import", "tsx", __filename, "--child", JSON.stringify(spec)];
  const r = spawnSync("taskset", args, { cwd: repo, encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.error) throw new Error(`cannot run taskset (util-linux): ${r.error.message}`);
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{")) {
    throw new Error(`a run on ${spec.input.name} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`);
  }
  return JSON.parse(last) as ChildResult;
}

interface Fixtures {
  cache: string;
  llamaCompletion?: string;
  probeHelper?: string;
  models: Record<string, string | undefined>;
}

function fixtures(): Fixtures {
  try {
    return JSON.parse(execFileSync(process.execPath, [path.join(repo, "scripts/fixtures.mjs")], { encoding: "utf8" }));
  } catch {
    throw new Error("no fixtures: run `npm run setup -- --bench-models` first, or pass --recording FILE");
  }
}

/**
 * The real recording: --recording, else one made once into the cache by the probe helper itself
 * (a raw stream: `ggml-lens record` converts its recordings to .ggmlprof containers).
 */
function realRecording(o: Options): string {
  if (o.recording) {
    if (!fs.existsSync(o.recording)) throw new Error(`--recording ${o.recording}: no such file`);
    return o.recording;
  }
  const f = fixtures();
  const file = path.join(f.cache, "bench", "decode-full.stream");
  if (fs.existsSync(file)) return file;
  const model = f.models.benchDenseQ4_0;
  if (!model || !f.llamaCompletion) throw new Error("no benchmark model: run `npm run setup -- --bench-models`, or pass --recording FILE");
  if (!f.probeHelper || !fs.existsSync(f.probeHelper)) throw new Error("no probe helper: run `npm run setup` (it builds bpf/), or pass --recording FILE");
  if (process.getuid?.() !== 0) throw new Error("recording the benchmark stream needs root (the probe helper loads eBPF): run as root, or pass --recording FILE");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  log(`recording ${file} (full mode, 320 tokens of the benchmark model; about a minute)`);
  const args = ["--mode", "full", "--out", `${file}.part`, "--", f.llamaCompletion, "-m", model, "-p", PROMPT,
    "-n", "320", "--ignore-eos", "--temp", "0", "-t", "2", "--no-warmup", "-no-cnv"];
  const r = spawnSync(f.probeHelper, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`recording failed (exit ${r.status}): ${r.stderr.trim().split("\n").pop()}`);
  fs.renameSync(`${file}.part`, file);
  return file;
}

/** extension/profile as of a git ref, in a temporary directory. */
function checkout(ref: string, into: string): string {
  fs.mkdirSync(into, { recursive: true });
  const tar = spawnSync("git", ["-C", repo, "archive", ref, "extension/profile"], { maxBuffer: 256 << 20 });
  if (tar.status !== 0) throw new Error(`--baseline ${ref}: git archive failed: ${tar.stderr.toString().trim()}`);
  execFileSync("tar", ["-x", "-C", into], { input: tar.stdout });
  return path.join(into, "extension", "profile");
}

function gitDescribe(ref: string): string {
  const r = spawnSync("git", ["-C", repo, "log", "-1", "--format=%h", ref], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : ref;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(argv[1]) as ChildSpec))}\n`);
    return;
  }
  const o = parseArgs(argv);
  const began = Date.now();
  const inputs: Input[] = [
    { name: "real recording", kind: "file", path: realRecording(o) },
    { name: "synthetic, 1M spans", kind: "synthetic", events: eventsForSpans(1_000_000) },
    { name: `synthetic, ${o.events / 1e6}M events`, kind: "synthetic", events: o.events },
  ];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-bench-decode-"));
  const variants: [string, string][] = [[WORKING_TREE, path.join(repo, "extension", "profile")]];
  if (o.baseline) variants.push([`baseline ${gitDescribe(o.baseline)}`, checkout(o.baseline, work)]);
  const loadStart = os.loadavg();
  const records: RunRecord[] = [];
  try {
    for (let round = 0; round < o.runs; round++) {
      const jobs = inputs.flatMap((input) => variants.map(([variant, code]) => ({ variant, code, input })));
      for (let i = 0; i < jobs.length; i++) {
        const { variant, code, input } = jobs[(i + round) % jobs.length];
        const result = runChild(o, { code, input });
        records.push({ ...result, variant, input: input.name, round, load1: os.loadavg()[0] });
        log(`round ${round + 1}/${o.runs} ${input.name.padEnd(24)} ${variant.slice(0, 30).padEnd(30)} ` +
          `cold ${(result.events / (result.cold.cpuMs / 1e3) / 1e6).toFixed(2)} M events/s (CPU), ` +
          `${(result.cold.decodeMs + result.cold.buildMs).toFixed(0)} ms wall; load ${os.loadavg()[0].toFixed(2)}`);
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const data = { date: new Date().toISOString(), machine: machineInfo(), options: o, inputs, variants: variants.map(([v]) => v),
    load: { start: loadStart, end: os.loadavg() }, durationS: (Date.now() - began) / 1000, records };
  fs.mkdirSync(o.outDir, { recursive: true });
  fs.writeFileSync(path.join(o.outDir, "decode-results.json"), `${JSON.stringify(data, null, 1)}\n`);
  fs.writeFileSync(path.join(o.outDir, "decode-results.md"), report(data));
  log(`done in ${(data.durationS / 60).toFixed(1)} min; wrote ${path.relative(process.cwd(), o.outDir) || "."}/decode-results.md and .json`);
}

function machineInfo(): Record<string, string> {
  const git = (...args: string[]) => spawnSync("git", ["-C", repo, ...args], { encoding: "utf8" }).stdout.trim();
  return {
    cpu: `${os.cpus()[0]?.model ?? "unknown"}, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    commit: `${git("log", "-1", "--format=%h")}${git("status", "--porcelain", "extension/profile") ? " + uncommitted changes in extension/profile" : ""}`,
  };
}

// ---- report ------------------------------------------------------------------------------------

type Data = {
  date: string;
  machine: Record<string, string>;
  options: Options;
  inputs: Input[];
  variants: string[];
  load: { start: number[]; end: number[] };
  durationS: number;
  records: RunRecord[];
};

const fmtM = (x: number): string => `${(x / 1e6).toFixed(2)}M`;
const fmtMs = (x: number): string => x.toFixed(0);
const fmtMiB = (x: number): string => (x / 2 ** 20).toFixed(0);

function row(label: string, s: Spread | undefined, fmt: (x: number) => string): string {
  return s ? `| ${label} | ${fmt(s.median)} | ${fmt(s.q1)} to ${fmt(s.q3)} | ${fmt(s.min)} to ${fmt(s.max)} |` : `| ${label} | n/a | | |`;
}

function inputSection(data: Data, input: Input): string[] {
  const lines: string[] = [];
  const all = data.records.filter((r) => r.input === input.name);
  if (all.length === 0) return lines;
  const first = all[0];
  const what = input.kind === "file" ? `\`${path.basename(input.path)}\`` : "built by scripts/bench/synthetic.ts";
  lines.push(`### ${input.name}`, "", `${what}: ${first.events} events, ${first.spans} op spans, ${fmtMiB(first.bytes)} MiB.`, "");
  for (const variant of data.variants) {
    const rs = all.filter((r) => r.variant === variant);
    const rate = (t: (r: RunRecord) => Timing, wall: boolean) =>
      spread(rs.map((r) => r.events / ((wall ? t(r).decodeMs + t(r).buildMs : t(r).cpuMs) / 1e3)));
    lines.push(`**${variant}** (${rs.length} runs)`, "", "| figure | median | IQR | range |", "| --- | --- | --- | --- |");
    lines.push(row("events/s, cold (CPU time)", rate((r) => r.cold, false), fmtM));
    lines.push(row("events/s, cold (wall, pinned)", rate((r) => r.cold, true), fmtM));
    lines.push(row("events/s, warm (CPU time)", rate((r) => r.warm, false), fmtM));
    lines.push(row("cold: decodeStream (ms)", spread(rs.map((r) => r.cold.decodeMs)), (x) => x.toFixed(1)));
    lines.push(row("cold: buildProfile (ms)", spread(rs.map((r) => r.cold.buildMs)), fmtMs));
    lines.push(row("cold: both, CPU time (ms)", spread(rs.map((r) => r.cold.cpuMs)), fmtMs));
    lines.push(row("warm: both, CPU time (ms)", spread(rs.map((r) => r.warm.cpuMs)), fmtMs));
    lines.push(row("peak RSS (MiB)", spread(rs.map((r) => r.peakRss)), fmtMiB));
    lines.push(row("RSS with the input loaded, before decoding (MiB)", spread(rs.map((r) => r.rssBefore)), fmtMiB));
    lines.push("");
  }
  return lines;
}

function verdicts(data: Data): string[] {
  const ours = data.records.filter((r) => r.variant === WORKING_TREE);
  const median = (input: Input, f: (r: RunRecord) => number) => spread(ours.filter((r) => r.input === input.name).map(f))?.median;
  const [real, oneM, tenM] = data.inputs;
  const realRate = median(real, (r) => r.events / (r.cold.cpuMs / 1e3));
  const realWarm = median(real, (r) => r.events / (r.warm.cpuMs / 1e3));
  const oneMs = median(oneM, (r) => r.cold.cpuMs);
  const tenMs = median(tenM, (r) => r.cold.cpuMs);
  const met = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "**met**" : "**not met**");
  return [
    "## Targets (working tree; medians, CPU time of the process pinned to one core)",
    "",
    "| target | measured | verdict |",
    "| --- | --- | --- |",
    `| issue 3: stream decode >= 5M events/s (real recording, decodeStream + buildProfile; throughput: warm) | warm ${realWarm ? fmtM(realWarm) : "n/a"} (cold ${realRate ? fmtM(realRate) : "n/a"}) | ${met(realWarm === undefined ? undefined : realWarm >= TARGET_EVENTS_PER_S)} |`,
    `| issue 4: a 1M-span profile aggregated < 1 s (from a stream in memory, cold) | ${oneMs ? `${fmtMs(oneMs)} ms` : "n/a"} | ${met(oneMs !== undefined && oneMs < TARGET_1M_SPANS_MS)} |`,
    `| issue 4: a 10M-event stream decoded and aggregated < 3 s (one core, cold) | ${tenMs ? `${fmtMs(tenMs)} ms` : "n/a"} | ${met(tenMs !== undefined && tenMs < TARGET_10M_EVENTS_MS)} |`,
    "",
  ];
}

function report(data: Data): string {
  const load1 = spread(data.records.map((r) => r.load1));
  return [
    "# ggml-lens decode throughput",
    "",
    "Generated by `npm run bench:decode` (scripts/bench/decode.ts); raw numbers in `decode-results.json`.",
    "`decodeStream` + `buildProfile` on a stream already in memory (reading the file, and the first touch of each of its pages, is not timed). Every run is a",
    `fresh Node process pinned to CPU ${data.options.cpu} (taskset), so GC and compiler threads share that core; it decodes once *cold*`,
    `(fresh JIT and heap: what opening a profile costs), then ${WARM_SKIP} times untimed, then *warm* (median of up to ${WARM_RUNS} more runs within ${WARM_BUDGET_MS / 1000} s).`,
    "Events/s use the process's CPU time (all threads),",
    "which leaves out time the core spent on other work; the wall time on the pinned core is shown too. Spreads are over",
    `rounds (variants and inputs interleaved, order rotating): median | interquartile range | min to max.`,
    "",
    "| | |",
    "| --- | --- |",
    `| date | ${data.date} |`,
    `| machine | ${data.machine.cpu}; node ${data.machine.node} |`,
    `| code | ${data.machine.commit} |`,
    `| load average (1 min) | start ${data.load.start[0].toFixed(2)}, end ${data.load.end[0].toFixed(2)}, at runs ${load1 ? `${load1.min.toFixed(2)} to ${load1.max.toFixed(2)}` : "n/a"} |`,
    `| bench | ${(data.durationS / 60).toFixed(1)} min; ${data.options.runs} rounds x ${data.variants.length} variant(s) x ${data.inputs.length} inputs |`,
    "",
    ...verdicts(data),
    "## Runs",
    "",
    ...data.inputs.flatMap((input) => inputSection(data, input)),
  ].join("\n");
}

main().catch((err) => {
  process.stderr.write(`bench:decode: error: ${(err as Error).message}\n`);
  process.exit(1);
});
