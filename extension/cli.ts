import { spawn } from "node:child_process";
import { once } from "node:events";
import { statSync } from "node:fs";
import { open } from "node:fs/promises";
import { availableParallelism, constants as osConstants } from "node:os";
import * as path from "node:path";
import { version } from "../package.json";
import { diffProfiles, diffText } from "./profile/diff";
import { findings, findingsText, type Finding } from "./profile/findings";
import { opTableCsv } from "./profile/export/csv";
import { perfettoTrace } from "./profile/export/perfetto";
import { pprofProfile } from "./profile/export/pprof";
import { ProfileReadError, loadProfile, loadRecording, saveContainer, type Recording } from "./profile/file";
import { MachineError, cachedCeilings, machineCeilings, parseCeilings, type MachineCeilings } from "./profile/machine";
import type { Profile } from "./profile/model";
import { analyze, formatRate, type Analysis, type OpClass, type OpRates } from "./profile/roofline";
import { ScaleArgsError, parseScaleArgs, scaling, scalingText, withThreads, type ScaleRun } from "./profile/scaling";
import { ProfileFormatError, type ProgramCost } from "./profile/stream";
import { checkSystem, liveSystemView, systemReady, systemReport } from "./profile/system";
import { isExecutable } from "./profile/executable";
import { backendTimes, copyVolume } from "./profile/backends";
import { breakEvenText, compareOffload, comparisonText, hasOffloadBackend, offloadAnalysis } from "./profile/offload";

const HELP = `ggml-lens ${version}: profile llama.cpp / ggml inference with eBPF

Usage:
  ggml-lens record [OPTIONS] -- CMD [ARGS...]    run CMD under the probe and record it
  ggml-lens record [OPTIONS] --pid PID [--duration S]
                                                 attach to a running process until it exits,
                                                 Ctrl-C, or S seconds have passed
  ggml-lens report FILE [--json]                 run summary and per-op table of a profile
  ggml-lens export FILE --format perfetto|pprof|csv [--out F]
                                                 the profile in another format
  ggml-lens diff A B [--json]                    compare two profiles, op by op
  ggml-lens machine [--json] [--refresh]         this machine's measured ceilings (roofline)
  ggml-lens scale [--threads 1,2,...] [--out-prefix P] [--json] [RECORD OPTIONS] -- CMD
                                                 record CMD at each thread count and compare
  ggml-lens check [--json]                       what profiling needs here (kernel, BTF, uprobes,
                                                 privilege, helper, PMU), with the fix for each
  ggml-lens --help                               show this help
  ggml-lens --version                            print the version

Record options (defaults are the probe helper's):
  --mode default|full|sample   default: token, graph, thread-state and sampling probes always
                               on, op probes in windows; full: every op of every token;
                               sample: no op probes
  --out FILE                   profile to write (default: ggml-lens-<date>_<time>.ggmlprof here)
  --sample-hz N                timer samples per second per CPU (0: none)
  --stack-kb N                 KiB of stack copied per sample to unwind its callers (0-48, 0: none)
  --ringbuf-kb N               size of each CPU's ring buffer in KiB, a power of two (default 2048);
                               its op log takes about as much again
  --live-shapes                read each op's type and shape from its tensor as it begins (about
                               0.1 us more an op) instead of from its graph's structure
  --window-every S             default mode: seconds from one op-tracing window's opening to the next
  --window-decodes N           default mode: llama_decode calls traced per window
  --layout-from DIR            for libraries without DWARF (stock builds): the bin/ directory of
                               a build of the same ggml with DWARF, whose layout they borrow
  --also-pid PID               trace this running process too, on the same clock (e.g. the
                               ggml-rpc-server of an --rpc client); repeatable, up to 4
  --elevation sudo|pkexec|none how the helper gets root when you are not root (default sudo;
                               none: run it as you, for a helper given capabilities)

record runs the probe helper (GGML_LENS_PROBE if set, else ggml-lens-probe next to this
script, else bpf/build/ggml-lens-probe of the source tree) with these options, through sudo
(or as --elevation says) when not root. The program's output and the helper's progress
appear as they come; a line summing up the profile ends the run. The exit status is the
helper's: the program's own when it ran CMD.

report prints the tokens, graphs, threads, lost events, op method and where op shapes
came from (the graph, or read live) of the run (and the CPU
backends the program loaded after the start, probed from then on), the time per
backend and the tensor copies between backends when more than one backend ran, then one
line per op: calls (one call is one thread running the op once), total time over threads,
share of all op time, mean, median and 99th percentile, achieved GFLOP/s and GB/s and the
bound (memory-bound, compute-bound, or neither: latency, sync, idle), then the same per op
class (op, tensor types and shapes) with FLOPs and bytes per run. Rates are FLOPs and minimum
bytes by each op's definition over each op run's wall time (first thread's start to last
thread's end). The ceilings used are those the profile carries, else this machine's cached
ones, else measured now; the report says which. --json prints the same as JSON, with
"classes", per-op rates in "ops", "ceilings", "assumptions", "findings", "backends"
(time per backend), "copies" (bytes and time, per direction) and "offload" (the break-even).

When a backend other than the CPU one ran, the report shows the offload break-even: per op it
took, per shape and batch (the result's ne[1]; for MUL_MAT the rows of src1), each backend's
time per call including the copies of its inputs (an RPC split takes the op times of the traced
server's split; a backend without op spans, such as BLAS, has its split's time divided among the
split's nodes by FLOPs).

report starts with the findings, ranked by the share of op thread time each concerns: the op
classes that dominate prefill and decode with their bound and distance to the roof, threads
waiting inside ops for the last thread (load imbalance), attention time per decode call against
the context position (slope of a least-squares fit), MoE routing skew per layer, op runs slowed
by major page faults (cold memory-mapped weights) with the experts first used in them, and
offload; each with its numbers and the evidence (timeline op and time range, roofline class,
kernel symbol).

machine runs ggml-lens-machine (GGML_LENS_MACHINE if set, else next to this script, else
bpf/build/ of the source tree; a few seconds): peak f32 FLOP/s and the bandwidth of each cache
level and of DRAM, one thread and all threads, next to the theoretical peak. The result is
cached per machine in ~/.cache/ggml-lens (or $GGML_LENS_CACHE)/machine-<key>.json and embedded
in each profile recorded here; --refresh measures again, --json prints it as JSON.

check reports the kernel, BTF, uprobes, uprobe_multi (kernel 6.6+), bpffs, root or sudo/pkexec,
the probe helper and the hardware PMU, with the fix for each missing piece; it exits with 1
when a piece that profiling cannot do without is missing.

Profiles are saved as .ggmlprof containers (docs/ggmlprof.md): record converts the helper's raw
stream at the end of the run, and keeps the raw stream when it cannot. Every command reads both.

export writes a Chrome/Perfetto trace (JSON: ui.perfetto.dev), a pprof profile (gzipped
protobuf: go tool pprof, Pyroscope, Parca; op time under decode call > graph > op, and
timer samples with source lines) or the op table as CSV, to --out F or to standard output.

diff compares B (after) with A (before): per op, mean time per token and share, the change, and
a Mann-Whitney U test on the op's time per decode call (p < 0.05 marked *); then what differs
in the run: command line, model, threads, weight types, library build ids, mode. When a backend
other than the CPU one ran in either run, the op classes that ran on such a backend in either
run, each run's fastest backend per call with copies (a CPU-only run against an offload
run compares the same shapes); --json adds them as "offload".

scale records CMD once per thread count (default 1, 2, 4, ... and the number of CPUs), with
llama.cpp's -t/--threads (and -tb/--threads-batch where given) set to the count, or -t added,
under record --mode full unless --mode says otherwise (other record options pass through), to
P-tN.ggmlprof. It prints decode tokens/s per count (decode tokens over the decode calls' time;
prefill the same), the speedup and parallel efficiency against the fewest threads, where
tokens/s saturates (the next count gains under 10% of the ideal), the wall time per decode call
of each op class at each count, the classes that stop scaling (efficiency under 50%), and these
as findings; --json prints the same as JSON. The program's output goes to standard error.

Usage errors and unreadable profiles exit with status 2.
`;

/** A mistake of the user's: one line on stderr, exit status 2. */
class UsageError extends Error {}

// ---- arguments ---------------------------------------------------------------------------

type Elevation = "sudo" | "pkexec" | "none";

interface RecordOptions {
  out: string;
  elevation: Elevation;
  /** -- CMD ARGS, empty with --pid. */
  command: string[];
  /** Options for the probe helper, by flag, in the order given. */
  probe: Map<string, string>;
  /** --also-pid, repeatable: processes traced with the target. */
  alsoPids: string[];
  /** --live-shapes: the helper reads each op's shape as it begins. */
  liveShapes: boolean;
}

type Check = (name: string, value: string) => void;

const integer =
  (min: number): Check =>
  (name, value) => {
    if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${name} must be an integer of at least ${min}, not '${value}'`);
  };

const seconds: Check = (name, value) => {
  if (!(Number(value) > 0) || !Number.isFinite(Number(value))) throw new UsageError(`${name} must be a positive number of seconds, not '${value}'`);
};

const directory: Check = (name, value) => {
  if (!statSync(value, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${name}: '${value}' is not a directory`);
};

const oneOf =
  (values: string[]): Check =>
  (name, value) => {
    if (!values.includes(value)) throw new UsageError(`${name} must be one of ${values.join(", ")}, not '${value}'`);
  };

/**
 * The record options handed to the probe helper, under the helper's own flag names, with a first
 * check of their values (the helper checks them fully). Together with probeArgs(), the one place
 * that knows ggml-lens-probe's command line.
 */
const PROBE_OPTIONS: Record<string, Check> = {
  "--mode": oneOf(["default", "full", "sample"]),
  "--sample-hz": integer(0),
  "--stack-kb": integer(0),
  "--ringbuf-kb": integer(4),
  "--window-every": seconds,
  "--window-decodes": integer(1),
  "--pid": integer(1),
  "--duration": seconds,
  "--layout-from": directory,
};

function probeArgs(o: RecordOptions): string[] {
  const args = [...o.probe].flat();
  for (const pid of o.alsoPids) args.push("--also-pid", pid);
  if (o.liveShapes) args.push("--live-shapes");
  args.push("--out", path.resolve(o.out));
  if (o.command.length > 0) args.push("--", ...o.command);
  return args;
}

/** Splits "--name=value" and "--name value"; returns name, value and how many args they took. */
function option(args: string[], i: number): [string, string, number] {
  const arg = args[i];
  const eq = arg.indexOf("=");
  if (eq >= 0) return [arg.slice(0, eq), arg.slice(eq + 1), 1];
  if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value`);
  return [arg, args[i + 1], 2];
}

function parseRecordArgs(args: string[]): RecordOptions {
  const o: RecordOptions = { out: defaultOutFile(new Date()), elevation: "sudo", command: [], probe: new Map(), alsoPids: [], liveShapes: false };
  for (let i = 0; i < args.length; ) {
    if (args[i] === "--") {
      o.command = args.slice(i + 1);
      break;
    }
    if (!args[i].startsWith("--")) throw new UsageError(`unexpected '${args[i]}': put the command to run after --`);
    if (args[i] === "--live-shapes") {
      o.liveShapes = true;
      i++;
      continue;
    }
    const [name, value, used] = option(args, i);
    if (name === "--out") o.out = value;
    else if (name === "--elevation") {
      oneOf(["sudo", "pkexec", "none"])(name, value);
      o.elevation = value as Elevation;
    }
    else if (name === "--also-pid") {
      integer(1)(name, value);
      o.alsoPids.push(value);
    } else if (PROBE_OPTIONS[name]) {
      PROBE_OPTIONS[name](name, value);
      o.probe.set(name, value);
    } else throw new UsageError(`unknown record option '${name}'; run 'ggml-lens --help'`);
    i += used;
  }
  checkTarget(o);
  return o;
}

function checkTarget(o: RecordOptions): void {
  const pid = o.probe.has("--pid");
  if (pid && o.command.length > 0) throw new UsageError("give either -- CMD or --pid PID, not both");
  if (!pid && o.command.length === 0) throw new UsageError("record needs a command after -- or --pid PID");
  if (o.probe.has("--duration") && !pid) throw new UsageError("--duration goes with --pid");
}

function defaultOutFile(now: Date): string {
  const two = (n: number): string => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
  const time = `${two(now.getHours())}-${two(now.getMinutes())}-${two(now.getSeconds())}`;
  return `ggml-lens-${date}_${time}.ggmlprof`;
}

// ---- record ------------------------------------------------------------------------------

/** The probe helper: GGML_LENS_PROBE, next to the bundled cli.js, or in the source tree. */
function findProbe(): string {
  const override = process.env.GGML_LENS_PROBE;
  if (override) {
    if (!isExecutable(override)) throw new UsageError(`GGML_LENS_PROBE=${override} is not an executable file`);
    return override;
  }
  const candidates = [path.join(__dirname, "ggml-lens-probe"), path.join(__dirname, "..", "bpf", "build", "ggml-lens-probe")];
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new UsageError(`probe helper not found (looked for ${candidates.join(" and ")}); build it with 'make -C bpf' or set GGML_LENS_PROBE`);
  }
  return found;
}

function findInPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  return dirs.map((dir) => path.join(dir, name)).find(isExecutable);
}

/** The command that runs the helper: itself as root or without elevation, else through sudo or pkexec. */
function privileged(probe: string, args: string[], elevation: Elevation): [string, string[]] {
  if (process.getuid?.() === 0 || elevation === "none") return [probe, args];
  const elevator = findInPath(elevation);
  if (!elevator) throw new UsageError(`recording needs root (eBPF) and ${elevation} is not installed: run ggml-lens record as root or pick another --elevation`);
  return elevation === "sudo" ? [elevator, ["--", probe, ...args]] : [elevator, [probe, ...args]];
}

/** Runs the helper with the terminal; resolves to its exit status (128 + n when killed by signal n). */
function runHelper(command: string, args: string[], outputToStderr = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: outputToStderr ? ["inherit", process.stderr, "inherit"] : "inherit" });
    // Ctrl-C reaches the helper through the terminal: stay alive to sum up what it wrote.
    const onInterrupt = (): void => {};
    const onTerminate = (): void => void child.kill("SIGTERM");
    process.on("SIGINT", onInterrupt);
    process.on("SIGTERM", onTerminate);
    const done = (): void => {
      process.off("SIGINT", onInterrupt);
      process.off("SIGTERM", onTerminate);
    };
    child.on("error", (err) => {
      done();
      reject(new UsageError(`cannot run ${command}: ${err.message}`));
    });
    child.on("exit", (code, signal) => {
      done();
      resolve(code ?? 128 + signalNumber(signal));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? osConstants.signals[signal] : 0;
}

/** `outputToStderr`: the program's standard output goes to our standard error (scale keeps its standard output for the comparison). */
async function record(args: string[], outputToStderr = false): Promise<number> {
  const options = parseRecordArgs(args);
  const [command, commandArgs] = privileged(findProbe(), probeArgs(options), options.elevation);
  const via = command.endsWith("sudo") || command.endsWith("pkexec") ? ` (through ${path.basename(command)})` : "";
  process.stderr.write(`ggml-lens: recording to ${options.out}${via}\n`);
  const status = await runHelper(command, commandArgs, outputToStderr);
  let recording: Recording;
  try {
    recording = await loadRecording(options.out);
  } catch (err) {
    if (!(err instanceof ProfileReadError || err instanceof ProfileFormatError)) throw err;
    process.stderr.write(`ggml-lens: the probe helper exited with status ${status} and left no readable profile: ${err.message}\n`);
    return status || 1;
  }
  await saveAsContainer(options.out, recording, options.command);
  process.stderr.write(`${recordSummary(options.out, recording.profile)}\n`);
  return status;
}

/** Replaces the helper's raw stream with a container; on failure the raw stream stays, and a line says so. */
async function saveAsContainer(file: string, recording: Recording, command: string[]): Promise<void> {
  const argv = command.length > 0 ? command : undefined;
  try {
    await saveContainer(file, recording.stream, { tool: { name: "ggml-lens", version }, machine: cachedCeilings() ?? null, argv });
  } catch (err) {
    process.stderr.write(`ggml-lens: kept the raw stream in ${file}: converting it to a .ggmlprof container failed: ${(err as Error).message}\n`);
  }
}

function recordSummary(file: string, p: Profile): string {
  const mib = statSync(file).size / 2 ** 20;
  const t = p.tokens;
  const parts = [
    `${t.tokens} tokens (${t.prefill.calls} prefill, ${t.decode.calls} decode calls)`,
    `${p.graphs.length} graphs`,
    `${p.spans.count} op spans on ${p.threads.length} threads`,
    `${p.lostEvents ?? "unknown"} lost events`,
  ];
  if (p.truncated) parts.push("truncated");
  return `ggml-lens: wrote ${file} (${mib.toFixed(1)} MiB): ${parts.join(", ")}; see 'ggml-lens report ${file}'`;
}

// ---- report ------------------------------------------------------------------------------

function parseReportArgs(args: string[]): { file: string; json: boolean } {
  const files = args.filter((a) => a !== "--json");
  const unknown = files.find((a) => a.startsWith("--"));
  if (unknown) throw new UsageError(`unknown report option '${unknown}'; run 'ggml-lens --help'`);
  if (files.length !== 1) throw new UsageError("report needs one profile file: ggml-lens report FILE [--json]");
  return { file: files[0], json: args.includes("--json") };
}

async function report(args: string[]): Promise<number> {
  const { file, json } = parseReportArgs(args);
  const recording = await loadRecording(file);
  const ceilings = await reportCeilings(file, recording.meta?.machine);
  const analysis = analyze(recording.profile, ceilings.ceilings);
  const found = findings(recording.profile, ceilings.ceilings);
  const text = json
    ? `${JSON.stringify(reportJson(file, recording.profile, analysis, ceilings.source, found), null, 2)}\n`
    : reportText(file, recording.profile, analysis, ceilings.source, found);
  process.stdout.write(text);
  return 0;
}

/** The ceilings a report uses: the profile's own, else this machine's cached ones, else measured now. */
async function reportCeilings(file: string, embedded: unknown): Promise<{ ceilings: MachineCeilings | null; source: string }> {
  if (embedded) {
    try {
      const c = parseCeilings(embedded, `${file}: its machine ceilings`);
      return { ceilings: c, source: `carried by the profile (${c.cpu.model}, measured ${c.measured_at})` };
    } catch (err) {
      process.stderr.write(`ggml-lens: ${(err as Error).message}; using this machine's\n`);
    }
  }
  try {
    const cached = cachedCeilings();
    if (!cached) process.stderr.write("ggml-lens: measuring this machine's ceilings (a few seconds, once: they are cached)\n");
    const { ceilings, source, file: cache } = await machineCeilings({ scriptDir: __dirname });
    return { ceilings, source: `this machine's, ${source === "cached" ? `cached in ${cache}` : "measured now"} (${ceilings.cpu.model})` };
  } catch (err) {
    if (!(err instanceof MachineError)) throw err;
    return { ceilings: null, source: `none, no bound column: ${err.message}` };
  }
}

const ms = (ns: number): number => ns / 1e6;
const msOrNull = (ns: number | null): number | null => (ns === null ? null : ms(ns));

interface CountersInfo {
  software?: string[];
  hardware?: string[];
  hardware_unavailable?: string;
}

/** The counters the helper recorded (software always; hardware where the machine has a PMU). */
function countersAvailable(p: Profile): string[] {
  const counters = (p.header.raw.counters ?? {}) as CountersInfo;
  return [...(counters.software ?? []), ...(counters.hardware ?? [])];
}

function countersUnavailable(p: Profile): Record<string, string> {
  const reason = ((p.header.raw.counters ?? {}) as CountersInfo).hardware_unavailable;
  return reason ? { hardware: reason } : {};
}

function reportJson(file: string, p: Profile, analysis: Analysis, ceilingsSource: string, found: Finding[]): object {
  const t = p.tokens;
  const unterminatedGraphs = p.graphs.filter((g) => g.status === null).length;
  return {
    file,
    version: p.version,
    target: p.header.target,
    mode: p.header.mode,
    op_method: p.header.op_method,
    op_shapes: p.header.op_shapes || "live",
    tokens: {
      count: t.tokens,
      calls: t.calls,
      prefill: { calls: t.prefill.calls, tokens: t.prefill.tokens, total_ms: ms(t.prefill.totalNs) },
      decode: { calls: t.decode.calls, tokens: t.decode.tokens, total_ms: ms(t.decode.totalNs) },
      unknown_calls: t.unknownCalls,
      ttft_ms: msOrNull(t.ttftNs),
      tpot_ms: msOrNull(t.tpotNs),
    },
    graphs: { count: p.graphs.length, structures: p.structures.size, unterminated: unterminatedGraphs },
    threads: { count: p.threads.length, tids: p.threads.map((l) => l.tid) },
    op_spans: { count: p.spans.count, ...snakeCase(p.pairing.ops) },
    ops: analysis.ops,
    classes: analysis.classes,
    ceilings: { source: ceilingsSource, ...analysis.ceilings },
    assumptions: analysis.assumptions,
    findings: found,
    backends: backendTimes(p),
    copies: copyVolume(p.copies),
    offload: hasOffloadBackend(p) ? offloadAnalysis(p) : null,
    lost_events: p.lostEvents,
    late_libraries: p.trailer?.late_libraries ?? [],
    program_cost: p.trailer?.program_cost ?? {},
    counters_available: countersAvailable(p),
    counters_unavailable: countersUnavailable(p),
    truncated: p.truncated,
    exit_status: p.trailer?.exit_status ?? null,
    errors: p.errors,
  };
}

function snakeCase(counts: Profile["pairing"]["ops"]): Record<string, number> {
  return {
    paired: counts.paired,
    unterminated: counts.unterminated,
    unmatched_ends: counts.unmatchedEnds,
    open_at_end: counts.openAtEnd,
    cut_by_window: counts.cutByWindow,
  };
}

function reportText(file: string, p: Profile, analysis: Analysis, ceilingsSource: string, found: Finding[]): string {
  const lines = [
    file,
    ...summaryLines(p),
    ...ceilingLines(analysis.ceilings, ceilingsSource),
    "",
    ...findingsText(found, p.calls[0]?.startNs ?? p.header.start_ns),
    "",
    ...backendsText(p),
    ...(hasOffloadBackend(p) ? breakEvenText(offloadAnalysis(p)) : []),
    ...opTable(analysis.ops),
    "",
    ...classTable(analysis.classes),
    "",
    "assumptions:",
    ...analysis.assumptions.map((a) => `  - ${a}`),
  ];
  return `${lines.join("\n")}\n`;
}

function ceilingLines(c: MachineCeilings | null, source: string): string[] {
  if (!c) return [`  ceilings  ${source}`];
  const memory = c.bandwidth_gbps.map((l) => `${l.level} ${formatRate(l.all_threads.median)}`).join(", ");
  return [
    `  ceilings  ${source}`,
    `            peak ${formatRate(c.peak_gflops.all_threads.median)} GFLOP/s f32 (${c.cpu.threads} threads, ${c.cpu.isa}); GB/s ${memory}`,
  ];
}

const rateCell = (value: number | null): string => (value === null ? "-" : formatRate(value));

function boundCell(r: OpRates | OpClass): string {
  const b = r.bound;
  if (b.verdict === "unknown" || b.fraction === null) return "-";
  const percent = b.fraction < 0.01 ? "<1" : String(Math.round(b.fraction * 100));
  return `${b.verdict} (${percent}% of ${b.roof})`;
}

/** Columns padded to their widest cell, the first left-aligned and the last left-aligned. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const last = header.length - 1;
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c === 0 || c === last ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

function summaryLines(p: Profile): string[] {
  const t = p.tokens;
  const fmt = (ns: number | null): string => (ns === null ? "-" : `${ms(ns).toFixed(2)} ms`);
  const target = p.header.target;
  const argv = target.argv.join(" ") || target.exe || "?";
  const lines = [
    `  target    ${argv} (pid ${target.pid}), mode ${p.header.mode || "?"}, op method ${p.header.op_method || "?"}, shapes ${p.header.op_shapes === "graph" ? "from the graph" : "read live"}`,
    `  tokens    ${t.tokens}: prefill ${t.prefill.calls} calls / ${t.prefill.tokens} tokens, decode ${t.decode.calls} calls, ` +
      `unknown ${t.unknownCalls} calls; ttft ${fmt(t.ttftNs)}, tpot ${fmt(t.tpotNs)}`,
    `  graphs    ${p.graphs.length} runs of ${p.structures.size} structures`,
    `  threads   ${p.threads.length} with ${p.spans.count} op spans (${p.pairing.ops.unterminated} unterminated)`,
    `  lost      ${p.lostEvents ?? "unknown (no trailer)"} events`,
    `  counters  ${countersAvailable(p).join(", ") || "none"}` +
      (countersUnavailable(p).hardware ? `; hardware: ${countersUnavailable(p).hardware}` : ""),
  ];
  const cost = programCostLine(p.trailer?.program_cost ?? {});
  if (cost) lines.push(cost);
  for (const late of p.trailer?.late_libraries ?? [])
    lines.push(`  late      ${late.path} loaded after the start, probed ${ms(late.attached_ns - p.header.start_ns).toFixed(0)} ms in: its earlier ops are not recorded`);
  if (p.truncated) lines.push("  truncated the stream was cut short: what precedes the cut is shown");
  for (const error of p.errors.slice(0, 5)) lines.push(`  error     ${error}`);
  return lines;
}

/** The BPF programs' own run time, when the kernel kept it (kernel.bpf_stats_enabled). */
function programCostLine(cost: Record<string, ProgramCost>): string | undefined {
  const programs = Object.entries(cost).sort((a, b) => b[1].ns - a[1].ns);
  if (programs.length === 0) return undefined;
  const total = programs.reduce((sum, [, c]) => sum + c.ns, 0);
  const each = programs.slice(0, 4).map(([name, c]) => `${name} ${Math.round(c.ns / c.runs)} ns x ${c.runs}`);
  return `  bpf cost  ${ms(total).toFixed(2)} ms in the probes' BPF programs (kernel.bpf_stats_enabled): ${each.join(", ")}`;
}

/** Time per backend and the copies between them, when more than one backend ran. */
function backendsText(p: Profile): string[] {
  if (p.backends.length < 2) return [];
  const times = backendTimes(p);
  const total = times.reduce((sum, t) => sum + t.computeNs, 0);
  const rows = times.map((t) => [t.name, String(t.pid), String(t.spans), String(t.nodes), ms(t.computeNs).toFixed(3), total ? ((t.computeNs / total) * 100).toFixed(1) : "-"]);
  const name = (id: number): string => (id < 0 ? "host" : (p.backends[id]?.name ?? "?"));
  const copies = copyVolume(p.copies);
  const flows = copies.flows.map((f) => `${name(f.fromBackend)} -> ${name(f.toBackend)} ${f.count} (${(f.bytes / 1024).toFixed(1)} KiB, ${ms(f.ns).toFixed(3)} ms)`);
  return [
    "Backends",
    ...table(["backend", "pid", "graphs", "nodes", "compute ms", "share %"], rows),
    `copies ${copies.count}: ${(copies.bytes / 1024).toFixed(1)} KiB in ${ms(copies.ns).toFixed(3)} ms${flows.length ? `; ${flows.join("; ")}` : ""}`,
    "",
  ];
}

function opTable(ops: OpRates[]): string[] {
  const header = ["op", "calls", "total ms", "share %", "mean µs", "p50 µs", "p99 µs", "faults", "csw", "GFLOP/s", "GB/s", "bound"];
  const rows = ops.map((s) => [
    s.fused && !s.op.includes("+") ? `${s.op} (fused)` : s.op,
    String(s.calls),
    ms(s.total_ns).toFixed(3),
    (s.share * 100).toFixed(1),
    (s.mean_ns / 1e3).toFixed(1),
    (s.p50_ns / 1e3).toFixed(1),
    (s.p99_ns / 1e3).toFixed(1),
    String(s.counters.minor_faults + s.counters.major_faults),
    String(s.counters.voluntary_switches + s.counters.involuntary_switches),
    rateCell(s.gflops),
    rateCell(s.gbps),
    boundCell(s),
  ]);
  if (rows.length === 0) return ["no op spans recorded"];
  return table(header, rows);
}

/** Op classes shown in the text report; --json has all. */
const CLASS_ROWS = 25;

function classTable(classes: OpClass[]): string[] {
  if (classes.length === 0) return [];
  const header = ["op class (result = sources)", "calls", "share %", "run µs", "MFLOP", "KiB", "FLOP/B", "GFLOP/s", "GB/s", "bound"];
  const rows = classes.slice(0, CLASS_ROWS).map((c) => [
    `${c.op} ${c.shape}`,
    String(c.calls),
    (c.share * 100).toFixed(1),
    (c.wall_mean_ns / 1e3).toFixed(1),
    c.flops === null ? "-" : (c.flops / 1e6).toFixed(3),
    c.bytes === null ? "-" : (c.bytes / 1024).toFixed(1),
    c.intensity === null ? "-" : c.intensity.toFixed(2),
    rateCell(c.gflops),
    rateCell(c.gbps),
    boundCell(c),
  ]);
  const more = classes.length > CLASS_ROWS ? [`... and ${classes.length - CLASS_ROWS} more classes (see --json)`] : [];
  return [...table(header, rows), ...more];
}

// ---- export ------------------------------------------------------------------------------

const EXPORT_FORMATS = ["perfetto", "pprof", "csv"] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

function parseExportArgs(args: string[]): { file: string; format: ExportFormat; out: string | undefined } {
  const files: string[] = [];
  let format: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; ) {
    if (!args[i].startsWith("--")) {
      files.push(args[i++]);
      continue;
    }
    const [name, value, used] = option(args, i);
    if (name === "--format") format = value;
    else if (name === "--out") out = value;
    else throw new UsageError(`unknown export option '${name}'; run 'ggml-lens --help'`);
    i += used;
  }
  if (files.length !== 1) throw new UsageError("export needs one profile file: ggml-lens export FILE --format perfetto|pprof|csv [--out F]");
  if (format === undefined) throw new UsageError("export needs --format perfetto, pprof or csv");
  oneOf([...EXPORT_FORMATS])("--format", format);
  return { file: files[0], format: format as ExportFormat, out };
}

function exported(recording: Recording, format: ExportFormat): Iterable<string | Uint8Array> {
  if (format === "perfetto") return perfettoTrace(recording);
  if (format === "pprof") return [pprofProfile(recording)];
  return [opTableCsv(recording.profile.ops)];
}

async function exportCommand(args: string[]): Promise<number> {
  const { file, format, out } = parseExportArgs(args);
  if (format === "pprof" && out === undefined && process.stdout.isTTY) throw new UsageError("pprof is binary: give --out F, or redirect standard output");
  const recording = await loadRecording(file);
  if (out === undefined) {
    for (const chunk of exported(recording, format)) if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
    return 0;
  }
  try {
    const handle = await open(out, "w");
    try {
      for (const chunk of exported(recording, format)) await (typeof chunk === "string" ? handle.write(chunk) : handle.write(chunk));
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new UsageError(`cannot write ${out}: ${(err as Error).message}`);
  }
  process.stderr.write(`ggml-lens: wrote ${out} (${format})\n`);
  return 0;
}

// ---- diff --------------------------------------------------------------------------------

async function diffCommand(args: string[]): Promise<number> {
  const files = args.filter((a) => a !== "--json");
  const unknown = files.find((a) => a.startsWith("--"));
  if (unknown) throw new UsageError(`unknown diff option '${unknown}'; run 'ggml-lens --help'`);
  if (files.length !== 2) throw new UsageError("diff needs two profile files: ggml-lens diff BEFORE AFTER [--json]");
  const [a, b] = await Promise.all(files.map(loadProfile));
  const diff = diffProfiles(a, b);
  const offload = hasOffloadBackend(a) || hasOffloadBackend(b) ? compareOffload(a, b) : null;
  const offloadLines = offload ? comparisonText(offload) : [];
  process.stdout.write(
    args.includes("--json")
      ? `${JSON.stringify({ before: files[0], after: files[1], ...diff, offload }, null, 2)}\n`
      : diffText(files[0], files[1], diff) + (offloadLines.length ? `\n${offloadLines.join("\n")}\n` : ""),
  );
  return 0;
}

// ---- machine -----------------------------------------------------------------------------

async function machineCommand(args: string[]): Promise<number> {
  const unknown = args.find((a) => a !== "--json" && a !== "--refresh");
  if (unknown) throw new UsageError(`unknown machine option '${unknown}'; run 'ggml-lens --help'`);
  const refresh = args.includes("--refresh");
  if (refresh || !cachedCeilings()) process.stderr.write("ggml-lens: measuring this machine's ceilings (a few seconds)\n");
  const { ceilings, source, file } = await machineCeilings({ scriptDir: __dirname, refresh });
  if (args.includes("--json")) process.stdout.write(`${JSON.stringify({ source, file, ...ceilings }, null, 2)}\n`);
  else process.stdout.write(`${machineText(ceilings, source, file).join("\n")}\n`);
  return 0;
}

function machineText(c: MachineCeilings, source: string, file: string): string[] {
  const theory = c.theoretical;
  const peakRow = (name: string, one: number, all: number, theoretical: string): string[] => [name, formatRate(one), formatRate(all), theoretical];
  const rows = [
    peakRow("peak GFLOP/s (f32)", c.peak_gflops.one_thread.median, c.peak_gflops.all_threads.median, theory ? `${formatRate(theory.gflops_all_threads)} theoretical` : ""),
    ...c.bandwidth_gbps.map((l) => peakRow(`${l.level} GB/s`, l.one_thread.median, l.all_threads.median, `${(l.working_set_bytes.one_thread / 1024).toFixed(0)} KiB working set`)),
  ];
  const clock = c.cpu.ghz === null ? "clock unknown" : `${c.cpu.ghz.toFixed(2)} GHz (${c.cpu.ghz_source})`;
  return [
    `${c.cpu.model}: ${c.cpu.cores} cores, ${c.cpu.threads} threads, ${c.cpu.isa}, ${clock}`,
    `${source === "cached" ? "cached" : "measured now"} (${c.measured_at}), ${file}; medians of ${c.repetitions} repetitions`,
    "",
    ...table(["ceiling", "1 thread", `${c.cpu.threads} threads`, ""], rows),
    ...(theory ? ["", `theoretical: ${theory.formula} = ${formatRate(theory.gflops_all_threads)} GFLOP/s`] : []),
    `bytes: ${c.bytes_counted}`,
    ...c.notes.map((n) => `note: ${n}`),
  ];
}

// ---- check ------------------------------------------------------------------------------

function checkCommand(args: string[]): number {
  const unknown = args.find((a) => a !== "--json");
  if (unknown) throw new UsageError(`unknown check option '${unknown}'; run 'ggml-lens --help'`);
  const checks = checkSystem(liveSystemView(), __dirname);
  const text = args.includes("--json") ? JSON.stringify({ ready: systemReady(checks), checks }, null, 2) : systemReport(checks).join("\n");
  process.stdout.write(`${text}\n`);
  return systemReady(checks) ? 0 : 1;
}

// ---- scale -------------------------------------------------------------------------------

async function scaleCommand(args: string[]): Promise<number> {
  const plan = parseScaleArgs(args, availableParallelism(), defaultOutFile(new Date()).replace(/\.ggmlprof$/, ""));
  const runs: ScaleRun[] = [];
  for (const threads of plan.threads) {
    const file = `${plan.prefix}-t${threads}.ggmlprof`;
    const status = await record([...plan.recordOptions, "--out", file, "--", ...withThreads(plan.command, threads)], true);
    if (status !== 0) throw new UsageError(`the run with ${threads} threads exited with status ${status}: fix the command (see its output above) and run scale again`);
    runs.push({ threads, file, profile: await loadProfile(file) });
  }
  const result = scaling(runs);
  process.stdout.write(plan.json ? `${JSON.stringify({ command: plan.command, ...result }, null, 2)}\n` : `${scalingText(plan.command, result).join("\n")}\n`);
  return 0;
}

// ---- main --------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "--version") {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  if (command === "record") return record(args);
  if (command === "report") return report(args);
  if (command === "export") return exportCommand(args);
  if (command === "diff") return diffCommand(args);
  if (command === "machine") return machineCommand(args);
  if (command === "scale") return scaleCommand(args);
  if (command === "check") return checkCommand(args);
  throw new UsageError(`unknown command '${command}'; run 'ggml-lens --help'`);
}

function isUserError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof ProfileReadError || err instanceof ProfileFormatError || err instanceof MachineError || err instanceof ScaleArgsError;
}

// A reader that stops early (`report --json | head`) is no error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
});

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    if (!isUserError(err)) throw err;
    process.stderr.write(`ggml-lens: ${err.message}\n`);
    process.exitCode = 2;
  },
);
