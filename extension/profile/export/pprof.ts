/**
 * A pprof profile (profile.proto, gzip-compressed as `go tool pprof`, Pyroscope and Parca expect it)
 * with two sample types:
 * - op_time (nanoseconds, the default): the op spans, summed per thread and stack
 *   `llama_decode call > graph > op`;
 * - samples (count): the timer samples, each under the op its thread was running (when one was),
 *   ending in the sampled instruction's function, source file and line, with the functions it was
 *   inlined into as the location's further lines (innermost first, as pprof wants); where the
 *   helper unwound the sample's caller chain, its callers are the frames between.
 */
import { gzipSync } from "node:zlib";
import { Function as PprofFunction, Label, Line, Location, Mapping, Profile as PprofProfile, Sample, StringTable, ValueType } from "pprof-format";
import type { Recording } from "../file";
import type { Profile, TokenCall } from "../model";
import { lastAtOrBefore } from "../sorted";
import type { SampleSymbol } from "../stream";
import { callName, graphName, RunContext } from "./context";

/** Interns functions, locations and mappings; a frame is one location. */
class Frames {
  readonly strings = new StringTable();
  readonly functions: PprofFunction[] = [];
  readonly locations: Location[] = [];
  readonly mappings: Mapping[] = [];
  private readonly functionIds = new Map<string, number>();
  private readonly locationIds = new Map<string, number>();
  private readonly mappingIds = new Map<string, number>();

  function(name: string, file: string): number {
    const key = `${name}\0${file}`;
    let id = this.functionIds.get(key);
    if (id === undefined) {
      id = this.functions.length + 1;
      this.functions.push(new PprofFunction({ id, name: this.strings.dedup(name), systemName: this.strings.dedup(name), filename: this.strings.dedup(file) }));
      this.functionIds.set(key, id);
    }
    return id;
  }

  /** A location with no address: a frame named by ggml-lens (decode call, graph, op). */
  named(name: string, file = ""): number {
    return this.location(`named\0${name}`, () => ({ line: [new Line({ functionId: this.function(name, file) })] }));
  }

  /** The location of a sampled instruction, with its inline frames. */
  sampled(ip: number, symbol: SampleSymbol | undefined): number {
    return this.location(`ip\0${ip}`, () => {
      const own = { function: symbol?.function ?? null, file: symbol?.file ?? null, line: symbol?.line ?? 0 };
      const frames = [own, ...(symbol?.inline_callers ?? [])];
      const name = (f: { function: string | null }): string => f.function ?? `0x${ip.toString(16)}`;
      return {
        address: ip,
        mappingId: symbol?.path ? this.mapping(symbol.path, symbol.build_id ?? "") : 0,
        line: frames.map((f) => new Line({ functionId: this.function(name(f), f.file ?? ""), line: f.line ?? 0 })),
      };
    });
  }

  private location(key: string, make: () => { address?: number; mappingId?: number; line: Line[] }): number {
    let id = this.locationIds.get(key);
    if (id === undefined) {
      id = this.locations.length + 1;
      this.locations.push(new Location({ id, ...make() }));
      this.locationIds.set(key, id);
    }
    return id;
  }

  private mapping(file: string, buildId: string): number {
    let id = this.mappingIds.get(file);
    if (id === undefined) {
      id = this.mappings.length + 1;
      this.mappings.push(new Mapping({ id, filename: this.strings.dedup(file), buildId: this.strings.dedup(buildId), hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: true }));
      this.mappingIds.set(file, id);
    }
    return id;
  }
}

/** Samples summed per stack and thread. */
class Totals {
  private readonly byKey = new Map<string, { stack: number[]; tid: number; values: number[] }>();

  add(stack: number[], tid: number, values: number[]): void {
    const key = `${tid}:${stack.join(",")}`;
    const total = this.byKey.get(key);
    if (total) total.values.forEach((_, i) => (total.values[i] += values[i]));
    else this.byKey.set(key, { stack, tid, values: [...values] });
  }

  samples(threadKey: number): Sample[] {
    return [...this.byKey.values()].map((t) => new Sample({ locationId: t.stack, value: t.values, label: [new Label({ key: threadKey, num: t.tid })] }));
  }
}

/** Leaf-first stack of the context frames at `ns`: op (if given), graph, decode call. */
function contextStack(frames: Frames, context: RunContext, ns: number, op: string | undefined): number[] {
  const call: TokenCall | undefined = context.callAt(ns);
  const stack = [frames.named(graphName(context.graphAt(ns))), frames.named(callName(call))];
  return op === undefined ? stack : [frames.named(op, "[ggml op]"), ...stack];
}

function addOpSpans(p: Profile, frames: Frames, context: RunContext, totals: Totals): void {
  for (const { tid, first, count } of p.threads) {
    for (let s = first; s < first + count; s++) {
      const ns = Math.max(0, p.spans.endNs[s] - p.spans.startNs[s]);
      totals.add(contextStack(frames, context, p.spans.startNs[s], p.labels[p.spans.label[s]].name), tid, [ns, 0]);
    }
  }
}

/** The op span each thread was running at a time, by binary search in its lane. */
function opAt(p: Profile, tid: number, ns: number): string | undefined {
  const lane = p.threads.find((l) => l.tid === tid);
  if (!lane) return undefined;
  const s = lastAtOrBefore(p.spans.startNs, ns, lane.first, lane.first + lane.count);
  return s >= lane.first && p.spans.endNs[s] >= ns ? p.labels[p.spans.label[s]].name : undefined;
}

function addTimerSamples(p: Profile, frames: Frames, context: RunContext, totals: Totals): void {
  const symbols = new Map((p.trailer?.symbols ?? []).map((s) => [s.ip, s]));
  const chains = p.trailer?.stacks ?? [];
  const { samples } = p;
  for (let i = 0; i < samples.count; i++) {
    const ip = samples.ip[i];
    const chain = chains[samples.stack[i] - 1] ?? [ip];
    const stack = [...chain.map((frame) => frames.sampled(frame, symbols.get(frame))), ...contextStack(frames, context, samples.ts[i], opAt(p, samples.tid[i], samples.ts[i]))];
    totals.add(stack, samples.tid[i], [0, 1]);
  }
}

function sampleHz(p: Profile): number {
  const hz = Number(p.header.raw.sample_hz);
  return Number.isFinite(hz) && hz > 0 ? hz : 0;
}

/** The profile, gzip-compressed. */
export function pprofProfile(recording: Recording, now = new Date()): Uint8Array {
  const p = recording.profile;
  const frames = new Frames();
  const totals = new Totals();
  const context = new RunContext(p);
  addOpSpans(p, frames, context, totals);
  addTimerSamples(p, frames, context, totals);
  const s = frames.strings;
  const opTime = new ValueType({ type: s.dedup("op_time"), unit: s.dedup("nanoseconds") });
  const hz = sampleHz(p);
  const profile = new PprofProfile({
    sampleType: [opTime, new ValueType({ type: s.dedup("samples"), unit: s.dedup("count") })],
    sample: totals.samples(s.dedup("thread")),
    mapping: frames.mappings,
    location: frames.locations,
    function: frames.functions,
    stringTable: s,
    timeNanos: BigInt(now.getTime()) * 1_000_000n,
    durationNanos: Math.round(p.trailer?.duration_ns ?? 0),
    periodType: new ValueType({ type: s.dedup("cpu"), unit: s.dedup("nanoseconds") }),
    period: hz ? Math.round(1e9 / hz) : 0,
    comment: [s.dedup(`ggml-lens: ${p.header.target.argv.join(" ") || p.header.target.exe}`)],
    defaultSampleType: s.dedup("op_time"),
  });
  return gzipSync(profile.encode());
}
