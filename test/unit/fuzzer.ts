/**
 * The profile-reader fuzzer: runs generated cases (fuzzInputs.ts) through the stream decoder
 * (whole and live, in random chunks), buildProfile, and the container reader and file loader, and
 * checks the properties every outcome must have. fuzz.test.ts runs it in a worker and watches it.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Codec, decodeContainer, isContainer } from "../../extension/profile/format";
import { loadRecording, ProfileReadError, type Recording } from "../../extension/profile/file";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream, LAYOUTS, ProfileFormatError, StreamDecoder, TABLE_NAMES, tensorName, type DecodedStream, type FieldLayout, type TableName } from "../../extension/profile/stream";
import { builtStreams, containerSeed, mutate, Prng, shortenedRecording, streamSeed, type Expect, type Mutant, type Seed, type StreamSeed } from "./fuzzInputs";

/** What a case may take before it counts as a hang (the watchdog's limit is longer). */
export const CASE_LIMIT_MS = 2000;
/** Longest error message accepted: one clear line, not a dump of the input. */
export const MESSAGE_LIMIT = 400;
/** Memory a case may add: this many times its input's scale, plus a fixed allowance. */
export const MEMORY_FACTOR = 32;
export const MEMORY_ALLOWANCE = 32 << 20;
/** One case in this many also goes through loadRecording() on a file. */
const FILE_EVERY = 64;

export interface FuzzSeeds {
  seeds: Seed[];
  /** Per seed, its relative chance of being picked. */
  weights: number[];
  /** Bytes a seed decodes to at most (the container's declared sections), for the memory bound. */
  scale: number[];
}

/** The seeds: the built streams, the recording shortened and whole, and a container of each. */
export function makeSeeds(recording?: Uint8Array): FuzzSeeds {
  const streams: [StreamSeed, number][] = builtStreams().map(({ name, bytes }) => [streamSeed(name, bytes), 10]);
  if (recording) {
    streams.push([streamSeed("recording-150", shortenedRecording(recording, 150)), 10]);
    streams.push([streamSeed("recording", recording), 0.05]);
  }
  const codecs = [Codec.Brotli, Codec.Deflate, Codec.Stored];
  const containers: [Seed, number][] = streams.map(([s, w], i) => [containerSeed(`${s.name}.ggmlprof`, s, codecs[i % codecs.length]), w]);
  const all = [...streams, ...containers];
  return {
    seeds: all.map(([s]) => s),
    weights: all.map(([, w]) => w),
    scale: all.map(([s]) => s.bytes.length + (s.kind === "container" ? s.sections.reduce((n, x) => n + x.decoded, 0) : 0)),
  };
}

function pickSeed(seeds: FuzzSeeds, rng: Prng): number {
  const total = seeds.weights.reduce((a, b) => a + b, 0);
  let x = (rng.u32() / 4294967296) * total;
  for (let i = 0; i < seeds.weights.length; i++) {
    if (x < seeds.weights[i]) return i;
    x -= seeds.weights[i];
  }
  return seeds.weights.length - 1;
}

// ---- what is checked ---------------------------------------------------------------------

/** The functions under test (replaceable, so that the fuzzer's own test can plant a fault). */
export interface Targets {
  decodeStream: typeof decodeStream;
  decodeContainer: typeof decodeContainer;
  buildProfile: typeof buildProfile;
}

export const REAL_TARGETS: Targets = { decodeStream, decodeContainer, buildProfile };

type Outcome = { stream: DecodedStream } | { error: unknown };

function isDocumented(err: unknown): err is ProfileFormatError | ProfileReadError {
  return err instanceof ProfileFormatError || err instanceof ProfileReadError;
}

/** A message a person can read in one line: no line breaks, control characters or dumps. */
export function messageProblem(message: unknown): string | undefined {
  if (typeof message !== "string" || message.length === 0) return `empty message ${JSON.stringify(message)}`;
  if (message.length > MESSAGE_LIMIT) return `message of ${message.length} characters: ${JSON.stringify(message.slice(0, 120))}...`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(message)) return `message with a line break or control character: ${JSON.stringify(message)}`;
  return undefined;
}

function columnKeys(table: TableName): string[] {
  const fields = Object.entries(LAYOUTS[table].fields as Record<string, FieldLayout>).filter(([, f]) => f.kind !== "char");
  return ["offset", "ts", "tid", ...fields.map(([k]) => k)];
}

const NAMED: ("graphNode" | "graphLeaf")[] = ["graphNode", "graphLeaf"];

/** Reads every column and tensor name, as the views may: lazy reads fail here if they fail at all. */
function touchAll(stream: DecodedStream): void {
  for (const table of TABLE_NAMES) {
    const t = stream.tables[table] as unknown as Record<string, ArrayLike<unknown>>;
    for (const key of columnKeys(table)) void t[key].length;
  }
  for (const table of NAMED) for (let row = 0; row < stream.tables[table].count; row++) tensorName(stream, table, row);
}

function load(bytes: Uint8Array, targets: Targets): Outcome {
  try {
    const stream = isContainer(bytes) ? targets.decodeContainer(bytes).stream : targets.decodeStream(bytes);
    targets.buildProfile(stream);
    touchAll(stream);
    return { stream };
  } catch (error) {
    return { error };
  }
}

function tableCounts(stream: DecodedStream): number[] {
  return TABLE_NAMES.map((t) => stream.tables[t].count);
}

/** What is wrong with an outcome, given what the mutation calls for. */
function outcomeProblems(outcome: Outcome, expect: Expect, seed: Seed): string[] {
  if ("error" in outcome) {
    const err = outcome.error;
    if (!isDocumented(err)) return [`crash: ${(err as Error)?.stack ?? String(err)}`];
    const problems = [messageProblem(err.message)].filter((p): p is string => p !== undefined);
    if (expect.kind === "error" && expect.match && !expect.match.test(err.message)) problems.push(`error ${JSON.stringify(err.message)} does not match ${expect.match}`);
    if (expect.kind !== "error" && expect.kind !== "any") problems.push(`expected a result (${expect.kind}), got ${err.name}: ${err.message}`);
    return problems;
  }
  const { stream } = outcome;
  const problems = stream.errors.map(messageProblem).filter((p): p is string => p !== undefined);
  const counts = tableCounts(stream);
  switch (expect.kind) {
    case "error":
      problems.push(`expected an error, got a result (${stream.count} records, errors ${JSON.stringify(stream.errors)})`);
      break;
    case "truncated":
      if (!stream.truncated) problems.push(`expected truncated, got errors=${JSON.stringify(stream.errors)}`);
      break;
    case "same":
      if (stream.truncated || stream.errors.length > 0 || counts.join() !== seed.tableCounts.join()) {
        problems.push(`expected the seed's records (${seed.tableCounts}), got ${counts} truncated=${stream.truncated} errors=${JSON.stringify(stream.errors)}`);
      }
      break;
    case "count":
      if (stream.count !== expect.count || stream.truncated) problems.push(`expected ${expect.count} records, got ${stream.count} truncated=${stream.truncated}`);
      break;
    case "result":
      if (expect.errors && !stream.errors.some((e) => expect.errors?.test(e))) problems.push(`no error matches ${expect.errors}: ${JSON.stringify(stream.errors)}`);
      break;
  }
  return problems;
}

/** Every record a raw stream's tables point at lies whole inside its bytes, in stream order. */
function offsetProblems(stream: DecodedStream): string[] {
  for (const table of TABLE_NAMES) {
    const { offset } = stream.tables[table];
    const size = LAYOUTS[table].size;
    for (let i = 0; i < offset.length; i++) {
      if (offset[i] + size > stream.bytes.length || (i > 0 && offset[i] <= offset[i - 1])) {
        return [`${table} row ${i} at offset ${offset[i]} is not a whole record inside ${stream.bytes.length} bytes`];
      }
    }
  }
  return [];
}

/** The same bytes through the live decoder, pushed in random chunks: the same records, the same end. */
function liveProblems(bytes: Uint8Array, whole: Outcome, rng: Prng): string[] {
  const live = new StreamDecoder();
  const counts = new Array<number>(TABLE_NAMES.length).fill(0);
  let count = 0;
  let truncated: boolean;
  const chunks = rng.between(1, 32);
  try {
    for (let at = 0; at < bytes.length; ) {
      const size = rng.between(1, Math.max(1, Math.ceil((2 * bytes.length) / chunks)));
      const batch = live.push(bytes.subarray(at, at + size));
      at += size;
      TABLE_NAMES.forEach((t, i) => (counts[i] += batch.tables[t].count));
      count += batch.count;
    }
    truncated = live.end();
  } catch (err) {
    if (!isDocumented(err)) return [`live decoder crash: ${(err as Error)?.stack ?? String(err)}`];
    if ("stream" in whole) return [`live decoder threw ${(err as Error).message}, the whole decode did not`];
    return [messageProblem((err as Error).message)].filter((p): p is string => p !== undefined);
  }
  const problems = live.errors.map(messageProblem).filter((p): p is string => p !== undefined);
  if (!("stream" in whole) || !live.header) return problems;
  const { stream } = whole;
  if (counts.join() !== tableCounts(stream).join() || count !== stream.count || truncated !== stream.truncated) {
    problems.push(`live decoder read ${counts} (${count}, truncated=${truncated}), the whole decode ${tableCounts(stream)} (${stream.count}, truncated=${stream.truncated})`);
  }
  return problems;
}

/**
 * The bytes as a reader may get them, by case: a plain array, a Node Buffer (whose slice() shares
 * memory, as readFile's result does), or a view at an odd offset of a larger buffer.
 */
function asRead(bytes: Uint8Array, index: number): Uint8Array {
  if (index % 3 === 1) return Buffer.from(bytes);
  if (index % 3 === 2) {
    const larger = new Uint8Array(bytes.length + 1);
    larger.set(bytes, 1);
    return larger.subarray(1);
  }
  return bytes;
}

export interface CaseResult {
  index: number;
  seed: string;
  mutator: string;
  what: string;
  /** "result" or the error's name. */
  outcome: string;
  problems: string[];
  inputBytes: number;
}

/** Runs case `index` of run `runSeed` (in memory: decoders, buildProfile, every column). */
export function runCase(seeds: FuzzSeeds, runSeed: number, index: number, targets = REAL_TARGETS): CaseResult & { mutant?: Mutant } {
  const rng = new Prng(runSeed, index);
  const s = pickSeed(seeds, rng);
  const seed = seeds.seeds[s];
  const base = { index, seed: seed.name, inputBytes: 0 };
  let mutant: Mutant & { mutator: string };
  try {
    mutant = mutate(seed, rng);
  } catch (err) {
    return { ...base, mutator: "?", what: "?", outcome: "fuzzer", problems: [`the fuzzer's mutation failed: ${(err as Error).stack}`] };
  }
  const outcome = load(asRead(mutant.bytes, index), targets);
  const problems = outcomeProblems(outcome, mutant.expect, seed);
  if (seed.kind === "stream") {
    if ("stream" in outcome && !isContainer(mutant.bytes)) problems.push(...offsetProblems(outcome.stream));
    if (!isContainer(mutant.bytes)) problems.push(...liveProblems(mutant.bytes, outcome, rng));
  }
  const name = "error" in outcome ? ((outcome.error as Error)?.name ?? "throw") : "result";
  return { ...base, mutator: mutant.mutator, what: mutant.what, outcome: name, problems, inputBytes: mutant.bytes.length, mutant };
}

let fileDir: string | undefined;

/**
 * The case's bytes through loadRecording() from a file (one case in FILE_EVERY, or any when
 * `always`): the same outcome as in memory, and a message that names the file. Columns read after
 * the load (as views do, lazily) may still fail, with a documented one-line error.
 */
export async function fileProblems(result: CaseResult & { mutant?: Mutant }, always = false): Promise<string[]> {
  if (!result.mutant || (!always && result.index % FILE_EVERY !== 0)) return [];
  fileDir ??= mkdtempSync(path.join(tmpdir(), "ggml-lens-fuzz-"));
  const file = path.join(fileDir, "case.ggmlprof");
  writeFileSync(file, result.mutant.bytes);
  let recording: Recording;
  try {
    recording = await loadRecording(file);
  } catch (err) {
    if (!isDocumented(err)) return [`loadRecording crash: ${(err as Error)?.stack ?? String(err)}`];
    const problems = [messageProblem(err.message)].filter((p): p is string => p !== undefined);
    if (!err.message.startsWith(`${file}: `)) problems.push(`loadRecording's message does not name the file: ${err.message}`);
    if (result.outcome === "result") problems.push(`loadRecording threw ${err.message}, the in-memory load did not`);
    return problems;
  }
  try {
    touchAll(recording.stream);
  } catch (err) {
    if (!isDocumented(err)) return [`crash reading the columns of a loaded file: ${(err as Error)?.stack ?? String(err)}`];
    const problem = messageProblem(err.message);
    return problem ? [problem] : [];
  }
  return result.outcome === "result" ? [] : [`loadRecording read the file whole, the in-memory load threw ${result.outcome}`];
}

/** Memory a case may add, by its input: its bytes and what its seed decodes to. */
export function memoryBound(seeds: FuzzSeeds, inputBytes: number): number {
  return MEMORY_FACTOR * (inputBytes + Math.max(...seeds.scale)) + MEMORY_ALLOWANCE;
}

export function replayCommand(runSeed: number, index: number, recording: string | undefined): string {
  return `npm run fuzz -- --seed ${runSeed} --case ${index}${recording ? ` --recording ${recording}` : ""}`;
}
