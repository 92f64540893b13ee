/**
 * Profile file benchmark: builds synthetic recordings with the real record layouts (a 1M-span one
 * and a 10M-event one, written with test/unit/streamBuilder.ts), saves each as a raw stream and as
 * .ggmlprof containers with several compression settings, then measures loading and aggregating each
 * file (loadRecording: read, decode, buildProfile) in a fresh process per run, like the CLI, median of
 * 5 runs. Writes bench/format-results.md.
 *
 *   npm run bench:format [-- --runs N --out FILE --scale F]   (--scale 0.01: a quick check of the script)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadRecording, saveContainer } from "../../extension/profile/file";
import { Codec, DEFAULT_COMPRESSION, encodeContainer, type CompressionOptions } from "../../extension/profile/format";
import { decodeStream, RECORD_HEADER } from "../../extension/profile/stream";
import { DEFAULT_HEADER, OP, StreamBuilder } from "../../test/unit/streamBuilder";
import { spread } from "./stats";

const REPO = path.resolve(__dirname, "../..");
const NODES_PER_GRAPH = 250;
const THREADS = [4101, 4102];

/** Deterministic pseudo-random integers in [0, n). */
function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

/**
 * One token's records as a dense llama runs them on two threads: a decode call, a graph of
 * NODES_PER_GRAPH nodes, each node one op span per thread (with software counters), two timer
 * samples and four scheduler events. Times are relative to the token's start.
 */
function tokenBlock(withStructure: boolean): Uint8Array {
  const sig = 0x5eed_0000_0000_0001n;
  const rand = random(7);
  const ops = [OP.RMS_NORM, OP.MUL_MAT, OP.MUL_MAT, OP.ADD, OP.MUL, OP.SOFT_MAX];
  const b = new StreamBuilder();
  const header = b.bytes().length;
  b.decodeBegin({ tid: THREADS[0], ts: 0, nTokens: 1 }).graphBegin({ tid: THREADS[0], ts: 500, signature: sig, nNodes: NODES_PER_GRAPH });
  if (withStructure) {
    for (let n = 0; n < NODES_PER_GRAPH; n++) {
      b.graphNode({ tid: THREADS[0], ts: 600, signature: sig, tensor: 0x7f00_0000_0000 + 0x400 * n, index: n, op: ops[n % ops.length], ne: [2048, 1, 1, 1], name: `blk.${n >> 4}.node_${n % 16}` });
    }
  }
  let t = 1_000;
  for (let n = 0; n < NODES_PER_GRAPH; n++) {
    const tensor = 0x7f00_0000_0000 + 0x400 * n;
    const op = ops[n % ops.length];
    const duration = op === OP.MUL_MAT ? 60_000 + rand(20_000) : 3_000 + rand(2_000);
    for (const [k, tid] of THREADS.entries()) {
      b.opBegin({ tid, ts: t + 200 * k, tensor, op, type: op === OP.MUL_MAT ? 2 : 0, ith: k, cpu: k, ne: [2048, 1, 1, 1], name: `blk.${n >> 4}.node_${n % 16}` });
    }
    for (const [k, tid] of THREADS.entries()) {
      b.opEnd({ tid, ts: t + duration + rand(500) + 200 * k, tensor, minFlt: rand(50) === 0 ? 1 : 0, cpuNs: duration - rand(300) });
    }
    if (n % 125 === 60) b.sample({ tid: THREADS[n % 2], ts: t + 1_000, ip: 0x7f10_0000_0000 + rand(4096) * 16 });
    if (n % 62 === 30) b.sched({ tid: THREADS[n % 2], ts: t + 1_500, kind: 1 + (n % 3) });
    t += duration + 1_500;
  }
  b.graphEnd({ tid: THREADS[0], ts: t }).decodeEnd({ tid: THREADS[0], ts: t + 500 });
  return b.bytes().subarray(header);
}

/** `tokens` tokens back to back, each token's times shifted and jittered (so that no two are alike). */
export function syntheticStream(tokens: number): { bytes: Uint8Array; spans: number; events: number } {
  const first = tokenBlock(true);
  const block = tokenBlock(false);
  const head = new StreamBuilder({ ...DEFAULT_HEADER, target: { ...DEFAULT_HEADER.target, argv: ["llama-completion", "-t", "2"] } }).bytes();
  const tail = new StreamBuilder().trailer().bytes().subarray(new StreamBuilder().bytes().length);
  const bytes = new Uint8Array(head.length + first.length + block.length * (tokens - 1) + tail.length);
  bytes.set(head);
  const rand = random(11);
  const view = new DataView(bytes.buffer);
  let at = head.length;
  let start = 1e12;
  let events = 0;
  for (let token = 0; token < tokens; token++) {
    const src = token === 0 ? first : block;
    bytes.set(src, at);
    const end = at + src.length;
    let last = 0;
    for (let pos = at; pos < end; pos += view.getUint16(pos + RECORD_HEADER.recordSize, true)) {
      const ts = Number(view.getBigUint64(pos + RECORD_HEADER.ts, true));
      last = ts;
      view.setBigUint64(pos + RECORD_HEADER.ts, BigInt(start + ts + rand(400)), true);
      events++;
    }
    at = end;
    start += last + 20_000 + rand(5_000);
  }
  bytes.set(tail, at);
  return { bytes, spans: tokens * NODES_PER_GRAPH * THREADS.length, events };
}

// ---- measuring ---------------------------------------------------------------------------

interface Measure {
  wall_ms: number;
  cpu_ms: number;
  spans: number;
}

/** In this process: read, decode and aggregate one file (what `ggml-lens report` does before printing). */
async function measureOnce(file: string): Promise<Measure> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const { profile } = await loadRecording(file);
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wall_ms: wall, cpu_ms: (used.user + used.system) / 1e3, spans: profile.spans.count };
}

function measureInChild(file: string): Measure {
  const out = execFileSync(process.execPath, ["--import", "tsx", __filename, "--measure", file], { cwd: REPO, encoding: "utf8", maxBuffer: 1 << 20 });
  return JSON.parse(out) as Measure;
}

interface Variant {
  name: string;
  compression: CompressionOptions | null;
}

const VARIANTS: Variant[] = [
  { name: "raw stream", compression: null },
  { name: "container, deflate 1", compression: { codec: Codec.Deflate, level: 1 } },
  { name: "container, deflate 6", compression: { codec: Codec.Deflate, level: 6 } },
  { name: "container, brotli 1", compression: { codec: Codec.Brotli, level: 1 } },
  { name: "container, brotli 5", compression: { codec: Codec.Brotli, level: 5 } },
];

interface Row {
  recording: string;
  variant: string;
  bytes: number;
  spans: number;
  events: number;
  write_ms: number | null;
  wall: ReturnType<typeof spread>;
  cpu: ReturnType<typeof spread>;
}

async function benchRecording(dir: string, label: string, tokens: number, runs: number): Promise<Row[]> {
  const { bytes, spans, events } = syntheticStream(tokens);
  const rawFile = path.join(dir, `${label}.raw.ggmlprof`);
  writeFileSync(rawFile, bytes);
  const stream = decodeStream(bytes);
  // Reads every column of the raw stream once, so that no variant's write time includes it.
  encodeContainer(stream, { tool: { name: "ggml-lens", version: "bench" }, compression: { codec: Codec.Stored, level: 0 } });
  const rows: Row[] = [];
  for (const variant of VARIANTS) {
    let file = rawFile;
    let writeMs: number | null = null;
    if (variant.compression) {
      file = path.join(dir, `${label}.${variant.name.replace(/\W+/g, "-")}.ggmlprof`);
      const start = performance.now();
      await saveContainer(file, stream, { tool: { name: "ggml-lens", version: "bench" }, compression: variant.compression });
      writeMs = performance.now() - start;
    }
    const measures = Array.from({ length: runs }, () => measureInChild(file));
    if (measures.some((m) => m.spans !== spans)) throw new Error(`${file}: expected ${spans} spans, read ${measures.map((m) => m.spans)}`);
    rows.push({ recording: label, variant: variant.name, bytes: statSync(file).size, spans, events, write_ms: writeMs, wall: spread(measures.map((m) => m.wall_ms)), cpu: spread(measures.map((m) => m.cpu_ms)) });
    process.stderr.write(`${label} ${variant.name}: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB, load ${rows[rows.length - 1].wall?.median.toFixed(0)} ms\n`);
    if (variant.compression) rmSync(file);
  }
  rmSync(rawFile);
  return rows;
}

function report(rows: Row[], runs: number, load: string): string {
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
  const ms = (s: ReturnType<typeof spread>): string => (s ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})` : "-");
  const lines = [
    "# Profile file benchmark",
    "",
    `\`npm run bench:format\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${runs} runs per file, each in a fresh`,
    "process (as the CLI loads a profile). Load = `loadRecording`: read the file, decode it and build the",
    "profile with its per-op aggregates (buildProfile). Times in ms: median (min-max) of wall time and of",
    "CPU time (user + system, one thread; the machine is shared, so CPU time is the steadier figure).",
    `Load average of the machine (${os.cpus().length} CPUs) at the start and at the end: ${load}.`,
    "",
    "Recordings: synthetic, with the real record layouts (test/unit/streamBuilder.ts), a dense model's",
    `token: one decode call, one graph of ${NODES_PER_GRAPH} nodes, one op span per node on each of 2 threads (with`,
    "software counters), 2 timer samples and 4 scheduler events; times jittered token by token.",
    "",
    "| recording | file | size MiB | MiB per 1M spans | write ms | load wall ms | load CPU ms |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const label = `${r.recording} (${(r.spans / 1e6).toFixed(2)}M spans, ${(r.events / 1e6).toFixed(2)}M events)`;
    const perMillion = mib((r.bytes / r.spans) * 1e6);
    lines.push(`| ${label} | ${r.variant} | ${mib(r.bytes)} | ${perMillion} | ${r.write_ms === null ? "-" : r.write_ms.toFixed(0)} | ${ms(r.wall)} | ${ms(r.cpu)} |`);
  }
  const chosen = `${Codec[DEFAULT_COMPRESSION.codec].toLowerCase()} ${DEFAULT_COMPRESSION.level}`;
  lines.push("", `\`record\` writes containers with ${chosen} (DEFAULT_COMPRESSION in extension/profile/format.ts).`, "");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<void> {
  const measure = argv.indexOf("--measure");
  if (measure >= 0) {
    process.stdout.write(JSON.stringify(await measureOnce(argv[measure + 1])));
    return;
  }
  const runsAt = argv.indexOf("--runs");
  const outAt = argv.indexOf("--out");
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 5;
  const scaleAt = argv.indexOf("--scale");
  const scale = scaleAt >= 0 ? Number(argv[scaleAt + 1]) : 1;
  const out = outAt >= 0 ? argv[outAt + 1] : path.join(REPO, "bench", "format-results.md");
  const dir = mkdtempSync(path.join(os.tmpdir(), "ggml-lens-bench-format-"));
  const loadBefore = os.loadavg()[0].toFixed(1);
  try {
    const rows = [
      ...(await benchRecording(dir, "1M spans", Math.ceil(2_000 * scale), runs)),
      // About 1008 events per token: 10M events.
      ...(await benchRecording(dir, "10M events", Math.ceil(9_921 * scale), runs)),
    ];
    writeFileSync(out, report(rows, runs, `${loadBefore} and ${os.loadavg()[0].toFixed(1)}`));
    process.stderr.write(`wrote ${out}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
