/**
 * This machine's ceilings for the roofline: what ggml-lens-machine (bpf/machine/) measured, peak
 * f32 FLOP/s and the triad bandwidth of each cache level and of DRAM, one thread and all threads,
 * cached per machine in $GGML_LENS_CACHE (default ~/.cache/ggml-lens)/machine-<key>.json, where the
 * key hashes the CPU model, the CPU count and the kernel release.
 *
 * `cachedCeilings()` is what a recording embeds (no measuring, no waiting); `machineCeilings()` measures
 * when nothing is cached or a refresh is asked for.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isExecutable } from "./executable";

/** The median of several repetitions, and the repetitions in the order they ran. */
export interface Rate {
  median: number;
  samples: number[];
}

/** One memory level of the hierarchical roofline: "L1", "L2", "L3", "DRAM". */
export interface BandwidthCeiling {
  level: string;
  /** Bytes of the triad's three arrays: for one thread, and for each thread when all run. */
  working_set_bytes: { one_thread: number; all_threads_each: number };
  /** GB/s (1e9 bytes per second). */
  one_thread: Rate;
  all_threads: Rate;
}

export interface MachineCeilings {
  format: "ggml-lens-machine";
  version: number;
  cpu: {
    model: string;
    /** The vector ISA the kernels ran: "avx512f", "avx2+fma", "sse2" or "portable-c". */
    isa: string;
    vector_lanes_f32: number;
    fma: boolean;
    /** CPUs this process may run on: the threads of the all-threads figures. */
    threads: number;
    cores: number;
    ghz: number | null;
    ghz_source: string;
  };
  caches: { level: number; size_bytes: number; shared_by: number }[];
  caches_source: string;
  repetitions: number;
  /** GFLOP/s (f32). */
  peak_gflops: { one_thread: Rate; all_threads: Rate };
  /** cores x GHz x lanes x 2 x pipes, where the clock is known; null elsewhere. */
  theoretical: { gflops_one_thread: number; gflops_all_threads: number; pipes: number; formula: string } | null;
  /** Fastest (L1) first, DRAM last. */
  bandwidth_gbps: BandwidthCeiling[];
  bytes_counted: string;
  notes: string[];
  elapsed_s: number;
  /** Added by ggml-lens when it measured: when, and on which machine. */
  measured_at: string;
  machine_key: string;
  kernel: string;
}

/** Where the ceilings came from. */
export type CeilingsSource = "measured" | "cached";

/** ggml-lens-machine is missing, failed, or a cached file is unreadable: a one-line reason. */
export class MachineError extends Error {
  override name = "MachineError";
}

export const MACHINE_BINARY = "ggml-lens-machine";
/** Longest a measurement may take before it is abandoned. */
const MEASURE_TIMEOUT_MS = 120_000;

/** The cache directory of ggml-lens (the same as setup's). */
export function cacheDir(): string {
  return process.env.GGML_LENS_CACHE || path.join(os.homedir(), ".cache", "ggml-lens");
}

/** Identity of this machine for the cache: CPU model, CPU count, kernel release. */
export function machineKey(): string {
  const cpus = os.cpus();
  const identity = [cpus[0]?.model ?? "unknown", cpus.length, os.release()].join("\n");
  return createHash("sha256").update(identity).digest("hex").slice(0, 16);
}

export function cacheFile(dir = cacheDir()): string {
  return path.join(dir, `machine-${machineKey()}.json`);
}

// ---- validation --------------------------------------------------------------------------

function fail(origin: string, what: string): never {
  throw new MachineError(`${origin}: ${what}; run 'ggml-lens machine --refresh' to measure again`);
}

function isRate(value: unknown): value is Rate {
  const r = value as Rate;
  return typeof r?.median === "number" && r.median > 0 && Array.isArray(r.samples);
}

/**
 * Checks that `value` is a ceilings object ggml-lens can use (as written by ggml-lens-machine and
 * completed by measureCeilings): a cached file, or the copy a profile carries.
 */
export function parseCeilings(value: unknown, origin: string): MachineCeilings {
  const c = value as MachineCeilings;
  if (typeof c !== "object" || c === null || c.format !== "ggml-lens-machine") fail(origin, "not a ggml-lens-machine result");
  if (c.version !== 1) fail(origin, `machine format version ${String(c.version)} is not supported (1 is)`);
  if (typeof c.cpu?.model !== "string" || !(c.cpu.threads >= 1)) fail(origin, "no cpu description");
  if (!isRate(c.peak_gflops?.one_thread) || !isRate(c.peak_gflops?.all_threads)) fail(origin, "no positive peak FLOP/s");
  if (!Array.isArray(c.bandwidth_gbps) || c.bandwidth_gbps.length === 0) fail(origin, "no bandwidth ceilings");
  for (const level of c.bandwidth_gbps) {
    if (typeof level.level !== "string" || !isRate(level.one_thread) || !isRate(level.all_threads)) {
      fail(origin, `bandwidth level ${String(level?.level)} has no positive rates`);
    }
  }
  if (c.bandwidth_gbps[c.bandwidth_gbps.length - 1].level !== "DRAM") fail(origin, "the last bandwidth level is not DRAM");
  return c;
}

// ---- the cache ---------------------------------------------------------------------------

/** This machine's cached ceilings, or undefined when none are cached (or the file is unusable). */
export function cachedCeilings(dir = cacheDir()): MachineCeilings | undefined {
  try {
    return readCached(cacheFile(dir));
  } catch {
    return undefined;
  }
}

function readCached(file: string): MachineCeilings | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MachineError(`${file}: cannot read it: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail(file, "not JSON");
  }
  return parseCeilings(json, file);
}

function writeCached(file: string, ceilings: MachineCeilings): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(ceilings, null, 2)}\n`);
  renameSync(partial, file);
}

// ---- measuring ---------------------------------------------------------------------------

/**
 * ggml-lens-machine: GGML_LENS_MACHINE if set, else next to the script in `scriptDir` (the bundled
 * CLI's directory), else bpf/build/ of the source tree above it.
 */
export function findMachineBinary(scriptDir: string): string {
  const override = process.env.GGML_LENS_MACHINE;
  if (override) {
    if (!isExecutable(override)) throw new MachineError(`GGML_LENS_MACHINE=${override} is not an executable file`);
    return override;
  }
  const candidates = [path.join(scriptDir, MACHINE_BINARY), path.join(scriptDir, "..", "bpf", "build", MACHINE_BINARY)];
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new MachineError(`${MACHINE_BINARY} not found (looked for ${candidates.join(" and ")}); build it with 'make -C bpf' or set GGML_LENS_MACHINE`);
  }
  return found;
}

/** Runs the micro-benchmark (a few seconds) and returns its result, stamped with this machine. */
export function measureCeilings(binary: string): Promise<MachineCeilings> {
  return new Promise((resolve, reject) => {
    execFile(binary, [], { timeout: MEASURE_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const reason = stderr.trim().split("\n").pop() || err.message;
        reject(new MachineError(`${binary} failed: ${reason}`));
        return;
      }
      try {
        const measured = parseCeilings(JSON.parse(stdout), binary);
        resolve({ ...measured, measured_at: new Date().toISOString(), machine_key: machineKey(), kernel: os.release() });
      } catch (e) {
        reject(e instanceof MachineError ? e : new MachineError(`${binary} printed no valid JSON: ${(e as Error).message}`));
      }
    });
  });
}

/** The ceilings of this machine: cached, else (or with `refresh`) measured now and cached. */
export async function machineCeilings(options: {
  scriptDir: string;
  refresh?: boolean;
  dir?: string;
}): Promise<{ ceilings: MachineCeilings; source: CeilingsSource; file: string }> {
  const file = cacheFile(options.dir);
  const cached = options.refresh ? undefined : readCached(file);
  if (cached) return { ceilings: cached, source: "cached", file };
  const ceilings = await measureCeilings(findMachineBinary(options.scriptDir));
  writeCached(file, ceilings);
  return { ceilings, source: "measured", file };
}

// ---- using them --------------------------------------------------------------------------

/** What `threads` threads can reach: the one-thread rate times threads, at most the all-threads rate. */
export function scaled(rate: { one_thread: Rate; all_threads: Rate }, threads: number): number {
  return Math.min(rate.all_threads.median, rate.one_thread.median * Math.max(1, threads));
}

/** Size of cache `level` (1, 2, 3...) in bytes, 0 when the machine has none. */
export function cacheSize(c: MachineCeilings, level: number): number {
  return c.caches.find((x) => x.level === level)?.size_bytes ?? 0;
}
